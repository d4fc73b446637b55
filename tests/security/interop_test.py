#!/usr/bin/python3
"""WS-Security interop and rejection tests.

Peers, all independent of mailchan and from Debian: Apache WSS4J 1.6
(Wss4jPeer.java), python3-zeep's BinarySignature (zeep_sign.py), the xmlsec1
command, and python3-xmlsec for hand-made signatures in the negative cases.
mailchan's side is its own filter driven by wss_tool.

usage: interop_test.py WSS_TOOL   (exit 77 when a peer is not installed)
"""
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = None
PKI = None
JAVA_CP = None
WORK = None

try:
    from lxml import etree
    import xmlsec
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography import x509
except ImportError as e:  # pragma: no cover
    print("skipped: %s" % e)
    sys.exit(77)

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
NS = {"s": SOAP, "a": WSA, "wsse": WSSE, "wsu": WSU, "ds": DS, "xenc": XENC}
SUITES = ["Basic256Rsa15", "Basic256", "Basic256Sha256", "Basic256Sha256Rsa15"]
UNDECRYPTABLE = "REJECT the message cannot be decrypted (key transport or data decryption failed)"

PLAIN = (
    '<s:Envelope xmlns:s="%s" xmlns:a="%s"><s:Header>'
    '<a:Action s:mustUnderstand="1">urn:test:echo</a:Action>'
    '<a:MessageID>urn:uuid:6c4a3f52-0d3e-4f0e-9a57-1b2d3e4f5a6b</a:MessageID>'
    '<a:ReplyTo><a:Address>net.mail://replies#alice@example.test</a:Address></a:ReplyTo>'
    '<a:To s:mustUnderstand="1">net.mail://echo#bob@example.test</a:To></s:Header>'
    '<s:Body><Echo xmlns="urn:test">the quick brown fox</Echo></s:Body></s:Envelope>' % (SOAP, WSA)
).encode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def settings(me, peer, suite="Basic256Rsa15", **extra):
    s = {"certificate": "%s/%s.pem" % (PKI, me), "private_key": "%s/%s.key" % (PKI, me),
         "recipient_certificate": "%s/%s.pem" % (PKI, peer), "security_ca_file": "%s/ca.pem" % PKI,
         "algorithm_suite": suite}
    s.update(extra)
    args = []
    for k, v in s.items():
        args += ["--set", "%s=%s" % (k, v)]
    return args


def secure(plain=PLAIN, me="alice", peer="bob", now=None, **kw):
    args = [TOOL] + settings(me, peer, **kw) + (["--now", str(now)] if now else []) + ["secure", "bob@example.test"]
    r = subprocess.run(args, input=plain, capture_output=True, check=True)
    return r.stdout


_n = [0]


def save(data):
    _n[0] += 1
    path = os.path.join(WORK, "m%04d.xml" % _n[0])
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else etree.tostring(data))
    return path


def verify(data, me="bob", peer="alice", **kw):
    """mailchan's verdict on one message: 'OK <subject>' or 'REJECT <reason>'."""
    paths = [save(d) for d in (data if isinstance(data, list) else [data])]
    r = subprocess.run([TOOL] + settings(me, peer, **kw) + ["verify"] + paths, capture_output=True)
    # nothing on stderr: no library (xmlsec, libxml2, OpenSSL) may print a
    # reason, let alone decrypted bytes
    if r.stderr:
        raise AssertionError("wss_tool wrote to stderr: %r" % r.stderr[:300])
    lines = r.stdout.decode().strip().splitlines()
    return lines if isinstance(data, list) else lines[0]


def open_plain(data, **kw):
    path = save(data)
    r = subprocess.run([TOOL] + settings("bob", "alice", **kw) + ["open", path], capture_output=True, check=True)
    return r.stdout


def java(*args, stdin=None):
    return subprocess.run(["java", "-cp", JAVA_CP, "Wss4jPeer"] + list(args), input=stdin,
                          capture_output=True, timeout=120)


def signed_only(**kw):
    """one of our messages signed but not encrypted, as a tree to tamper with"""
    return etree.fromstring(secure(protection_level="sign", **kw))


def hand_signed(refs, key="alice", created=None, digest="sha1"):
    """A message signed by python-xmlsec over exactly `refs` (names among
    Body Timestamp To Action MessageID ReplyTo): for the coverage checks."""
    env = etree.fromstring(PLAIN)
    header = env.find("s:Header", NS)
    sec = etree.SubElement(header, "{%s}Security" % WSSE, nsmap={"wsse": WSSE, "wsu": WSU})
    now = created or datetime.now(timezone.utc)
    ts = etree.SubElement(sec, "{%s}Timestamp" % WSU)
    etree.SubElement(ts, "{%s}Created" % WSU).text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(ts, "{%s}Expires" % WSU).text = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cert = x509.load_pem_x509_certificate(read("%s/%s.pem" % (PKI, key)))
    bst = etree.SubElement(sec, "{%s}BinarySecurityToken" % WSSE,
                           ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3",
                           EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary")
    bst.text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    bst.set("{%s}Id" % WSU, "tok")
    targets = {"Body": env.find("s:Body", NS), "Timestamp": ts}
    for h in ("To", "Action", "MessageID", "ReplyTo"):
        targets[h] = header.find("a:%s" % h, NS)
    sha256 = digest == "sha256"
    sig = xmlsec.template.create(env, xmlsec.Transform.EXCL_C14N,
                                 xmlsec.Transform.RSA_SHA256 if sha256 else xmlsec.Transform.RSA_SHA1, ns="ds")
    sec.append(sig)
    ctx = xmlsec.SignatureContext()
    for name in refs:
        node = targets[name]
        node.set("{%s}Id" % WSU, "id-" + name)
        ctx.register_id(node, "Id", WSU)
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256 if sha256 else xmlsec.Transform.SHA1,
                                            uri="#id-" + name)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    ki = xmlsec.template.ensure_key_info(sig)
    str_ = etree.SubElement(ki, "{%s}SecurityTokenReference" % WSSE)
    etree.SubElement(str_, "{%s}Reference" % WSSE, URI="#tok",
                     ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3")
    ctx.key = xmlsec.Key.from_file("%s/%s.key" % (PKI, key), xmlsec.KeyFormat.PEM)
    ctx.sign(sig)
    return env


SIGN_ONLY = {"protection_level": "sign"}


class Interop(unittest.TestCase):
    def test_wss4j_accepts_ours_every_suite(self):
        for suite in SUITES:
            for enc_sig in ("true", "false"):
                for keyid in ("ski", "issuer_serial", "thumbprint"):
                    with self.subTest(suite=suite, encrypt_signature=enc_sig, keyid=keyid):
                        msg = secure(suite=suite, encrypt_signature=enc_sig, recipient_key_identifier=keyid)
                        r = java("verify", PKI + "/bob.jks", save(msg))
                        out = r.stdout.decode().strip()
                        self.assertTrue(out.startswith("OK"), out + r.stderr.decode()[-500:])
                        for part in ("Timestamp", "Action", "MessageID", "ReplyTo", "To", "Body"):
                            self.assertIn(part, out.split("encrypted:")[0])
                        self.assertIn("Body", out.split("encrypted:")[1])
                        if enc_sig == "true":
                            self.assertIn("Signature", out.split("encrypted:")[1])

    def test_wss4j_rejects_tampered_ours(self):
        doc = signed_only()
        doc.find("s:Body", NS)[0].text = "tampered"
        r = java("verify", PKI + "/bob.jks", save(doc))
        self.assertTrue(r.stdout.decode().startswith("FAIL"), r.stdout)

    def test_we_accept_wss4j(self):
        for suite in SUITES:
            for keyid in ("issuer_serial", "ski"):
                for reflist in ("inside", "standalone"):
                    with self.subTest(suite=suite, keyid=keyid, reflist=reflist):
                        r = java("build", PKI + "/alice.jks", suite, keyid, reflist, stdin=PLAIN)
                        self.assertEqual(r.returncode, 0, r.stderr.decode()[-800:])
                        self.assertEqual(verify(r.stdout, suite=suite), "OK CN=alice,O=mailchan tests")
                        self.assertIn(b"the quick brown fox", open_plain(r.stdout, suite=suite))
                        self.assertNotIn(b"the quick brown fox", r.stdout)  # it was encrypted

    def test_decrypted_content_is_prescanned(self):
        """decrypted content reaches libxml2 through xmlsec: it gets the same
        linear pre-scan (libxml2 checks duplicate attributes in O(n^2)); a
        refusal is the one decryption error"""
        def body(n):
            attrs = " ".join('a%d="v"' % i for i in range(n))
            return PLAIN.replace(b"<Echo xmlns=\"urn:test\">", ('<Echo xmlns="urn:test" %s>' % attrs).encode())
        for n, verdict in ((60, "OK CN=alice,O=mailchan tests"), (3000, UNDECRYPTABLE)):
            with self.subTest(attributes=n):
                r = java("build", PKI + "/alice.jks", "Basic256Rsa15", "issuer_serial", "inside", stdin=body(n))
                self.assertEqual(r.returncode, 0, r.stderr.decode()[-800:])
                self.assertNotIn(b'a59="v"', r.stdout)  # encrypted
                self.assertEqual(verify(r.stdout), verdict)

    def test_we_accept_zeep(self):
        for digest, suite in (("sha1", "Basic256Rsa15"), ("sha256", "Basic256Sha256")):
            with self.subTest(digest=digest):
                r = subprocess.run(["/usr/bin/python3", HERE + "/zeep_sign.py", PKI + "/alice.key",
                                    PKI + "/alice.pem", digest], input=PLAIN, capture_output=True, check=True)
                msg = r.stdout
                # zeep signs Body and Timestamp only: accepted once unsigned
                # WS-Addressing headers are allowed, refused by default
                self.assertEqual(verify(msg, suite=suite, protection_level="sign", require_signed_addressing="false"),
                                 "OK CN=alice,O=mailchan tests")
                self.assertEqual(verify(msg, suite=suite, protection_level="sign"), "REJECT wsa:Action is not signed")
                self.assertEqual(verify(msg, suite=suite),
                                 "REJECT the Body is not encrypted (protection_level is encrypt_and_sign)")

    def test_xmlsec1_verifies_ours(self):
        for suite in SUITES:
            with self.subTest(suite=suite):
                path = save(secure(suite=suite, protection_level="sign"))
                ids = ["--id-attr:Id", SOAP + ":Body", "--id-attr:Id", WSU + ":Timestamp"]
                for h in ("Action", "MessageID", "ReplyTo", "To"):
                    ids += ["--id-attr:Id", WSA + ":" + h]
                cmd = ["xmlsec1", "--verify", "--pubkey-cert-pem", PKI + "/alice.pem"] + ids
                r = subprocess.run(cmd + [path], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr[-600:])
                self.assertIn("SignedInfo References (ok/all): 6/6", r.stderr)
                bad = read(path).replace(b"quick brown", b"quick green")
                r = subprocess.run(cmd + [save(bad)], capture_output=True, text=True)
                self.assertNotEqual(r.returncode, 0)

    def test_python_xmlsec_decrypts_ours(self):
        """python-xmlsec opens our EncryptedKey and the Body's EncryptedData"""
        for suite in SUITES:
            with self.subTest(suite=suite):
                doc = etree.fromstring(secure(suite=suite, encrypt_signature="false"))
                ek = doc.find(".//xenc:EncryptedKey", NS)
                ed = doc.find("s:Body/xenc:EncryptedData", NS)
                mngr = xmlsec.KeysManager()
                mngr.add_key(xmlsec.Key.from_file(PKI + "/bob.key", xmlsec.KeyFormat.PEM))
                kctx = xmlsec.EncryptionContext(mngr)
                session = kctx.decrypt(ek)
                self.assertEqual(len(session), 32)
                dctx = xmlsec.EncryptionContext()
                dctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, session)
                dctx.decrypt(ed)
                self.assertEqual(doc.find("s:Body", NS)[0].text, "the quick brown fox")


class Rejections(unittest.TestCase):
    def test_round_trip_every_suite_and_key_identifier(self):
        for suite in SUITES:
            for keyid in ("ski", "issuer_serial", "thumbprint"):
                with self.subTest(suite=suite, keyid=keyid):
                    msg = secure(suite=suite, recipient_key_identifier=keyid)
                    self.assertNotIn(b"quick brown", msg)
                    self.assertEqual(verify(msg, suite=suite), "OK CN=alice,O=mailchan tests")

    def test_pkcs12_and_encrypted_pem_keys(self):
        msg = secure()
        self.assertEqual(verify(msg, certificate=PKI + "/bob.p12", private_key="", private_key_password="p12pass"),
                         "OK CN=alice,O=mailchan tests")
        self.assertEqual(verify(msg, private_key=PKI + "/bob-enc.key", private_key_password="keypass"),
                         "OK CN=alice,O=mailchan tests")

    def test_no_security_header(self):
        doc = signed_only()
        sec = doc.find("s:Header/wsse:Security", NS)
        sec.getparent().remove(sec)
        self.assertEqual(verify(doc), "REJECT the message has no wsse:Security header (security_mode is message)")

    def test_not_signed(self):
        doc = signed_only()
        sig = doc.find(".//ds:Signature", NS)
        sig.getparent().remove(sig)
        self.assertEqual(verify(doc, **SIGN_ONLY), "REJECT the message is not signed")

    def test_bad_signature(self):
        doc = signed_only()
        doc.find("s:Body", NS)[0].text = "tampered"
        self.assertEqual(verify(doc, **SIGN_ONLY),
                         "REJECT bad signature: the signature value or a digest does not match")
        doc = signed_only()
        sv = doc.find(".//ds:SignatureValue", NS)
        raw = bytearray(base64.b64decode(sv.text))
        raw[10] ^= 1
        sv.text = base64.b64encode(bytes(raw)).decode()
        self.assertEqual(verify(doc, **SIGN_ONLY),
                         "REJECT bad signature: the signature value or a digest does not match")

    def test_parts_not_signed(self):
        every = ["Body", "Timestamp", "To", "Action", "MessageID", "ReplyTo"]
        self.assertEqual(verify(hand_signed(every), **SIGN_ONLY), "OK CN=alice,O=mailchan tests")
        for missing, reason in (("Body", "the Body is not signed"), ("Timestamp", "the Timestamp is not signed"),
                                ("To", "wsa:To is not signed"), ("Action", "wsa:Action is not signed"),
                                ("ReplyTo", "wsa:ReplyTo is not signed")):
            with self.subTest(missing=missing):
                refs = [r for r in every if r != missing]
                self.assertEqual(verify(hand_signed(refs), **SIGN_ONLY), "REJECT " + reason)

    @staticmethod
    def forge_body(copy_id):
        """a signed message whose signed Body is moved into a header wrapper,
        with a forged Body in its place (carrying the signed Id if copy_id)"""
        doc = signed_only()
        body = doc.find("s:Body", NS)
        wrapper = etree.SubElement(doc.find("s:Header", NS), "{urn:evil}Wrapper")
        doc.remove(body)
        wrapper.append(body)
        forged = etree.SubElement(doc, "{%s}Body" % SOAP)
        if copy_id:
            forged.set("{%s}Id" % WSU, body.get("{%s}Id" % WSU))
        etree.SubElement(forged, "{urn:test}Echo").text = "transfer all the money"
        return doc

    def test_wrapping_body_moved(self):
        """the signed Body moved into a header, a forged Body in its place"""
        self.assertEqual(verify(self.forge_body(False), **SIGN_ONLY), "REJECT the Body is not signed")

    def test_wrapping_duplicate_id(self):
        """the same, with the forged Body carrying the signed Body's Id"""
        out = verify(self.forge_body(True), **SIGN_ONLY)
        self.assertTrue(out.startswith("REJECT the Id \"B-") and out.endswith("appears twice (signature wrapping?)"),
                        out)

    def test_wrapping_timestamp(self):
        """the signed (old) Timestamp hidden below Security, a fresh one beside it"""
        doc = signed_only()
        sec = doc.find("s:Header/wsse:Security", NS)
        ts = sec.find("wsu:Timestamp", NS)
        wrapper = etree.SubElement(sec, "{urn:evil}Wrapper")
        sec.remove(ts)
        wrapper.append(ts)
        fresh = etree.SubElement(sec, "{%s}Timestamp" % WSU)
        etree.SubElement(fresh, "{%s}Created" % WSU).text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.assertEqual(verify(doc, **SIGN_ONLY), "REJECT the Timestamp is not signed")

    def test_wrapping_to_header(self):
        """the signed wsa:To moved into a wrapper header, a forged To in its place"""
        doc = signed_only()
        header = doc.find("s:Header", NS)
        to = header.find("a:To", NS)
        wrapper = etree.SubElement(header, "{urn:evil}Wrapper")
        header.remove(to)
        wrapper.append(to)
        etree.SubElement(header, "{%s}To" % WSA).text = "net.mail://evil#mallory@example.test"
        self.assertEqual(verify(doc, **SIGN_ONLY), "REJECT wsa:To is not signed")

    def test_wrapping_second_security_header(self):
        doc = signed_only()
        header = doc.find("s:Header", NS)
        etree.SubElement(header, "{%s}Security" % WSSE)
        self.assertEqual(verify(doc, **SIGN_ONLY), "REJECT the message has more than one wsse:Security header")

    def test_reference_not_same_document_id(self):
        doc = signed_only()
        doc.find(".//ds:Reference", NS).set("URI", "#xpointer(/)")
        self.assertEqual(verify(doc, **SIGN_ONLY),
                         "REJECT a signature Reference is not \"#Id\" of an element in this message")

    def test_timestamp_expired_and_future(self):
        self.assertEqual(verify(secure(now=int(time.time()) - 2 * 86400)), "REJECT the Timestamp has expired")
        self.assertEqual(verify(secure(now=int(time.time()) + 3600)),
                         "REJECT the Timestamp is in the future, beyond max_clock_skew")
        # within the skew: fine
        self.assertEqual(verify(secure(now=int(time.time()) + 120)), "OK CN=alice,O=mailchan tests")
        # valid, but older than a short replay window
        self.assertEqual(verify(secure(now=int(time.time()) - 7200), replay_window="3600000"),
                         "REJECT the Timestamp is older than the replay window")

    def test_replay(self):
        msg = secure()
        out = verify([msg, msg])  # two mails with the same content
        self.assertEqual(out[0], "OK CN=alice,O=mailchan tests")
        self.assertTrue(out[1].startswith("REJECT replayed message"), out[1])
        self.assertEqual(verify([msg, msg], replay_detection="false"), ["OK CN=alice,O=mailchan tests"] * 2)

    def test_certificates(self):
        for who, reason in (("carol", "REJECT the sender's certificate is not trusted: unable to get local issuer "
                                      "certificate"),
                            ("expired", "REJECT the sender's certificate has expired"),
                            ("nosign", "REJECT the sender's certificate is not for signing (its keyUsage lacks "
                                       "digitalSignature)"),
                            ("codesign", "REJECT the sender's certificate is for another purpose (its "
                                         "extendedKeyUsage allows neither e-mail protection nor client or server "
                                         "authentication)")):
            with self.subTest(sender=who):
                self.assertEqual(verify(secure(me=who)), reason)
        # a receiver that trusts only the other CA
        self.assertEqual(verify(secure(), security_ca_file=PKI + "/other-ca.pem"),
                         "REJECT the sender's certificate is not trusted: unable to get local issuer certificate")

    def test_algorithm_outside_suite(self):
        msg = secure(suite="Basic256Sha256")
        self.assertEqual(verify(msg, suite="Basic256Sha256Rsa15"),
                         "REJECT key transport algorithm http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p is outside "
                         "the suite (expected http://www.w3.org/2001/04/xmlenc#rsa-1_5)")
        self.assertEqual(verify(secure(suite="Basic256Sha256", protection_level="sign"), **SIGN_ONLY),
                         "REJECT signature algorithm http://www.w3.org/2001/04/xmldsig-more#rsa-sha256 is outside "
                         "the suite (expected http://www.w3.org/2000/09/xmldsig#rsa-sha1)")
        doc = etree.fromstring(secure())
        doc.find("s:Body/xenc:EncryptedData/xenc:EncryptionMethod", NS).set(
            "Algorithm", "http://www.w3.org/2001/04/xmlenc#aes128-cbc")
        self.assertEqual(verify(doc), "REJECT data encryption algorithm http://www.w3.org/2001/04/xmlenc#aes128-cbc "
                                      "is outside the suite (expected http://www.w3.org/2001/04/xmlenc#aes256-cbc)")
        self.assertEqual(verify(hand_signed(["Body", "Timestamp", "To", "Action", "MessageID", "ReplyTo"],
                                            digest="sha256"), **SIGN_ONLY),
                         "REJECT signature algorithm http://www.w3.org/2001/04/xmldsig-more#rsa-sha256 is outside "
                         "the suite (expected http://www.w3.org/2000/09/xmldsig#rsa-sha1)")

    def test_rsa15_failures_are_indistinguishable(self):
        bob = x509.load_pem_x509_certificate(read(PKI + "/bob.pem")).public_key()

        def with_key_cipher(cipher):
            doc = etree.fromstring(secure(encrypt_signature="false"))
            doc.find(".//xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue", NS).text = base64.b64encode(cipher)
            return doc

        doc = etree.fromstring(secure(encrypt_signature="false"))
        cv = doc.find(".//xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue", NS)
        raw = bytearray(base64.b64decode(cv.text))
        raw[5] ^= 0x40
        cv.text = base64.b64encode(bytes(raw))
        variants = {
            "bad padding": doc,
            "wrong key length": with_key_cipher(bob.encrypt(os.urandom(16), padding.PKCS1v15())),
            "wrong key": with_key_cipher(bob.encrypt(os.urandom(32), padding.PKCS1v15())),
            "random ciphertext": with_key_cipher(os.urandom(256)),
        }
        doc = etree.fromstring(secure(encrypt_signature="false"))
        cv = doc.find("s:Body/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue", NS)
        raw = bytearray(base64.b64decode(cv.text))
        raw[-1] ^= 0x01
        cv.text = base64.b64encode(bytes(raw))
        variants["corrupt body ciphertext"] = doc
        for name, d in variants.items():
            with self.subTest(variant=name):
                self.assertEqual(verify(d), UNDECRYPTABLE)

    def test_not_for_us_and_not_encrypted(self):
        self.assertEqual(verify(secure(), me="carol", security_ca_file=PKI + "/ca.pem"),
                         "REJECT the message is encrypted, but not for this receiver's certificate")
        self.assertEqual(verify(secure(protection_level="sign")),
                         "REJECT the Body is not encrypted (protection_level is encrypt_and_sign)")

    def test_garbage(self):
        for data in (b"", b"not xml", b"<a/>", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
                     PLAIN.replace(b"<s:Body>", b"<s:Body><s:Body/>")):
            with self.subTest(data=data[:20]):
                self.assertTrue(verify(data).startswith("REJECT "))


def main():
    global TOOL, PKI, JAVA_CP, WORK
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    TOOL = os.path.abspath(sys.argv[1])
    for cmd in ("java", "javac", "keytool", "xmlsec1", "openssl"):
        if not shutil.which(cmd):
            print("skipped: %s is not installed (tests/install-deps.sh --test)" % cmd)
            return 77
    jars = ["/usr/share/java/%s.jar" % j for j in ("wss4j", "xmlsec", "commons-logging", "slf4j-api", "slf4j-nop")]
    if not all(os.path.exists(j) for j in jars):
        print("skipped: libwss4j-java is not installed")
        return 77
    WORK = tempfile.mkdtemp(prefix="mc-wss.")
    try:
        PKI = os.path.join(WORK, "pki")
        subprocess.run(["bash", HERE + "/pki.sh", PKI], check=True, stdout=subprocess.DEVNULL)
        classes = os.path.join(WORK, "classes")
        os.mkdir(classes)
        cp = ":".join(jars)
        subprocess.run(["javac", "-nowarn", "-d", classes, "-cp", cp, HERE + "/Wss4jPeer.java"], check=True)
        JAVA_CP = classes + ":" + cp
        prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
