#!/usr/bin/python3
"""ewsctl.py - the EWS responder's control endpoint from a shell or a C test
(tests/integration/test_ews.c). Reads MC_EWS_CONTROL and MC_EWS_CA.

  ewsctl.py count USER FOLDER SUBJECT   items of USER in FOLDER (display name) whose
                                        subject contains SUBJECT; prints N
  ewsctl.py unread USER FOLDER SUBJECT  as count, only unread items
  ewsctl.py deliver TO FILE             inject the mail in FILE (raw MIME) for TO
  ewsctl.py folder USER NAME            create folder NAME beside the Inbox
  ewsctl.py json '{"busy": ...}'        any control command; prints the reply
  ewsctl.py times OP                    start times (s, float) of every OP request, one per line
  ewsctl.py invalid                     prints invalid requests + invalid responses so far
  ewsctl.py requests [OP]               prints how many EWS requests (of OP) came so far, 401s included
"""
import base64, json, os, ssl, sys, urllib.request

def call(obj):
    ctx = ssl.create_default_context(cafile=os.environ["MC_EWS_CA"])
    req = urllib.request.Request(os.environ["MC_EWS_CONTROL"], data=json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
        return json.loads(r.read())

def items(user, folder, subject, unread_only=False):
    d = call({"dump": user})
    n = 0
    for it in d.get("items", []):
        f = it.get("folder", "")
        if (f == folder or f.endswith("/" + folder)) and subject in (it.get("subject") or ""):
            if not unread_only or not it.get("is_read"):
                n += 1
    return n

def main(a):
    if a[0] in ("count", "unread"):
        print(items(a[1], a[2], a[3], a[0] == "unread"))
    elif a[0] == "deliver":
        mime = open(a[2], "rb").read()
        print(json.dumps(call({"deliver": {"to": a[1], "mime": base64.b64encode(mime).decode()}})))
    elif a[0] == "folder":
        print(json.dumps(call({"create_folder": {"user": a[1], "name": a[2]}})))
    elif a[0] == "json":
        print(json.dumps(call(json.loads(a[1]))))
    elif a[0] == "times":
        st = call({"stats": True})["stats"]
        for t in st.get("timeline", []):
            if t.get("operation") == a[1]:
                print(repr(t["time"]))
    elif a[0] == "invalid":
        st = call({"stats": True})["stats"]
        print(st.get("invalid_requests", 0) + st.get("invalid_responses", 0))
    elif a[0] == "requests":
        reqs = call({"stats": True})["stats"].get("requests", {})
        print(reqs.get(a[1], 0) if len(a) > 1 else sum(reqs.values()))
    else:
        sys.exit("unknown command " + a[0])

if __name__ == "__main__":
    main(sys.argv[1:])
