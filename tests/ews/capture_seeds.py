#!/usr/bin/python3
"""capture_seeds.py - fuzz seeds for tests/fuzz/fuzz_ews.c taken from the EWS
responder's real answers to the requests mailchan's exchange binding sends
(exchange/ews/*.c): FindFolder, FindItem pages, GetItem with the MIME,
CreateItem SaveOnly, DeleteItem with a per-id ErrorItemNotFound, Subscribe
(streaming and pull), GetEvents, the GetStreamingEvents envelopes (OK,
Notifications, Closed) one per file, and the ErrorServerBusy fault.

usage: tests/ews/run_test.sh /usr/bin/python3 tests/ews/capture_seeds.py OUT_DIR
(run_test.sh starts the responder with EWS minutes of 2 s and exports env.sh).
Writes OUT_DIR/captured-*.xml, each under 500 KB."""
import base64, http.client, json, os, re, ssl, sys, threading, time, urllib.parse

URL = urllib.parse.urlparse(os.environ["MC_EWS_URL"])
CTX = ssl.create_default_context(cafile=os.environ["MC_EWS_CA"])
AUTH = "Basic " + base64.b64encode(("bob@example.test:" + os.environ["MC_EWS_BOB_PW"]).encode()).decode()
OUT = sys.argv[1]
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


def envelope(op):
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            'envelope/" xmlns:t="%s" xmlns:m="%s"><soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/>'
            '</soap:Header><soap:Body>%s</soap:Body></soap:Envelope>' % (T, M, op)).encode()


def conn():
    return http.client.HTTPSConnection(URL.hostname, URL.port, context=CTX, timeout=30)


def call(op, expect=200):
    c = conn()
    c.request("POST", URL.path, envelope(op), {"Authorization": AUTH, "Content-Type": "text/xml; charset=utf-8"})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != expect:
        sys.exit("%s: HTTP %d: %s" % (op[:40], r.status, body[:300]))
    return body


def control(obj):
    c = http.client.HTTPSConnection(URL.hostname, URL.port, context=CTX, timeout=30)
    c.request("POST", "/_control", json.dumps(obj).encode(), {"Content-Type": "application/json"})
    out = json.loads(c.getresponse().read())
    c.close()
    return out


def save(name, body):
    assert len(body) < 500 * 1024, name
    with open(os.path.join(OUT, "captured-" + name + ".xml"), "wb") as f:
        f.write(body)
    print("captured-%s.xml %d bytes" % (name, len(body)))


def deliver(subject, body="<x/>"):
    mime = ("From: someone@example.test\r\nTo: bob@example.test\r\nSubject: %s\r\nMessage-ID: <%f@seed>\r\n"
            "Content-Type: application/soap+xml; charset=utf-8\r\n\r\n%s\r\n" % (subject, time.time(), body))
    control({"deliver": {"to": "bob@example.test", "mime": base64.b64encode(mime.encode()).decode()}})


def ids(body):
    return re.findall(rb'<t:ItemId Id="([^"]+)" ChangeKey="([^"]+)"', body)


FOLDER = ('<t:FolderId Id="%s"/>')


def main():
    os.makedirs(OUT, exist_ok=True)
    b = call('<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>'
             '<t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/></t:AdditionalProperties>'
             '</m:FolderShape><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="folder:DisplayName"/>'
             '<t:FieldURIOrConstant><t:Constant Value="Service E-mail"/></t:FieldURIOrConstant></t:IsEqualTo>'
             '</m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds>'
             '</m:FindFolder>')
    save("findfolder-service", b)
    folder = re.search(rb'<t:FolderId Id="([^"]+)"', b).group(1).decode()
    b = call('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>%s</t:FolderIds><t:EventTypes>'
             '<t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType>'
             '<t:EventType>MovedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>'
             % (FOLDER % folder))
    save("subscribe-streaming", b)
    sub = re.search(rb"<m:SubscriptionId>([^<]+)<", b).group(1).decode()
    b = call('<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>%s</t:FolderIds><t:EventTypes>'
             '<t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType>'
             '<t:EventType>MovedEvent</t:EventType></t:EventTypes><t:Timeout>30</t:Timeout>'
             '</m:PullSubscriptionRequest></m:Subscribe>' % (FOLDER % folder))
    save("subscribe-pull", b)
    pull = re.search(rb"<m:SubscriptionId>([^<]+)<", b).group(1).decode()
    wm = re.search(rb"<m:Watermark>([^<]+)<", b).group(1).decode()

    # the stream: OK at once, Notifications when mail comes, Closed after ConnectionTimeout (1 "minute" = 2 s)
    c = conn()
    c.request("POST", URL.path, envelope('<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>%s'
                                         '</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1'
                                         '</m:ConnectionTimeout></m:GetStreamingEvents>' % sub),
              {"Authorization": AUTH, "Content-Type": "text/xml; charset=utf-8"})
    r = c.getresponse()
    threading.Timer(0.3, lambda: [deliver("[net.mail] seeds %d" % i) for i in range(3)]).start()
    data = r.read()
    c.close()
    envs = re.findall(rb"<\?xml.*?</[A-Za-z0-9]*:?Envelope>", data, re.S) or \
        re.findall(rb"<[A-Za-z0-9]*:?Envelope.*?</[A-Za-z0-9]*:?Envelope>", data, re.S)
    kinds = {}
    for e in envs:
        k = "notification" if b"Notifications" in e else "closed" if b">Closed<" in e else "ok"
        kinds.setdefault(k, e)
    for k, e in sorted(kinds.items()):
        save("stream-" + k, e)

    b = call('<m:GetEvents><m:SubscriptionId>%s</m:SubscriptionId><m:Watermark>%s</m:Watermark></m:GetEvents>'
             % (pull, wm))
    save("getevents", b)
    pages = []
    for off in (0, 2):
        b = call('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                 '<t:AdditionalProperties><t:FieldURI FieldURI="item:Size"/><t:FieldURI FieldURI="item:'
                 'DateTimeReceived"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView '
                 'MaxEntriesReturned="2" Offset="%d" BasePoint="Beginning"/><m:Restriction><t:Contains '
                 'ContainmentMode="Substring" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI='
                 '"item:Subject"/><t:Constant Value="[net.mail]"/></t:Contains></m:Restriction><m:SortOrder>'
                 '<t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder>'
                 '</m:SortOrder><m:ParentFolderIds>%s</m:ParentFolderIds></m:FindItem>' % (off, FOLDER % folder))
        save("finditem-page%d" % (off // 2 + 1), b)
        pages += ids(b)
    assert len(pages) == 3, pages
    b = call('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true'
             '</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds></m:GetItem>'
             % pages[0][0].decode())
    save("getitem-mime", b)
    b = call('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds></m:DeleteItem>'
             % pages[0][0].decode())
    b = call('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds>%s</m:ItemIds></m:DeleteItem>'
             % "".join('<t:ItemId Id="%s"/>' % i.decode() for i, _ in pages))
    save("deleteitem-itemnotfound", b)
    mime = base64.b64encode(b"To: alice@example.test\r\nSubject: [net.mail] draft\r\n\r\n<x/>\r\n").decode()
    b = call('<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId '
             'Id="drafts"/></m:SavedItemFolderId><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">%s'
             '</t:MimeContent></t:Message></m:Items></m:CreateItem>' % mime)
    save("createitem-saveonly", b)
    control({"busy": {"op": "FindItem", "count": 1, "backoff_ms": 2000}})
    b = call('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
             '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>', 500)
    save("fault-serverbusy", b)


if __name__ == "__main__":
    main()
