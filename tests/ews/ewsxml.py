"""XML side of the EWS test responder: namespaces, the one hardened parse path,
schema validation against Microsoft's published EWS schema (schema/), SOAP
envelopes and the fault shapes Exchange uses.
"""
import os
import threading

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
NSMAP = {"m": M, "t": T}

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")

# What the responder says it is: Exchange 2016 CU-era build numbers
SERVER_VERSION = dict(MajorVersion="15", MinorVersion="1", MajorBuildNumber="2507",
                      MinorBuildNumber="6", Version="V2017_07_11")


def m(tag):
    return "{%s}%s" % (M, tag)


def t(tag):
    return "{%s}%s" % (T, tag)


class BadXml(Exception):
    """The request is not well-formed XML (or uses what the parser refuses)."""

    def __init__(self, msg, line=0, col=0):
        super().__init__(msg)
        self.line, self.col = line, col


def parse(data):
    """Parse a request body: no DTD, no entities, no network, no huge trees."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        line, col = (e.position if e.position else (0, 0))
        raise BadXml(str(e), line, col)
    if root.getroottree().docinfo.doctype:
        raise BadXml("DTD is prohibited in this XML document.", 1, 1)
    return root


class Validator:
    """Validates an element against one XSD. lxml schema objects are shared
    between the server's threads, so validation is serialised."""

    def __init__(self, xsd_name):
        self._schema = etree.XMLSchema(etree.parse(os.path.join(SCHEMA_DIR, xsd_name)))
        self._lock = threading.Lock()

    def check(self, elem):
        """None when valid, else (message, line, column) of the first error."""
        # validate a copy as its own document so that line numbers and the
        # root declaration lookup refer to the element itself
        doc = etree.fromstring(etree.tostring(elem))
        with self._lock:
            if self._schema.validate(doc):
                return None
            err = self._schema.error_log[0]
            return (err.message, err.line, err.column)


def el(parent, tag, text=None, **attrs):
    """Append a child element (tag in Clark notation) and return it."""
    e = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        e.text = str(text)
    return e


def envelope(body_child, version_header=True):
    """A response envelope in the shape current Exchange versions send."""
    env = etree.Element("{%s}Envelope" % SOAP, nsmap={"s": SOAP})
    if version_header:
        hdr = etree.SubElement(env, "{%s}Header" % SOAP)
        etree.SubElement(hdr, t("ServerVersionInfo"), SERVER_VERSION,
                         nsmap={"h": T, None: T, "xsd": XSD, "xsi": XSI})
    body = etree.SubElement(env, "{%s}Body" % SOAP, nsmap={"xsi": XSI, "xsd": XSD})
    body.append(body_child)
    return env


def serialize(env):
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def response_root(op):
    """<m:{op}Response> with the m/t prefixes Exchange declares on it."""
    root = etree.Element(m(op + "Response"), nsmap=NSMAP)
    return root, el(root, m("ResponseMessages"))


def fault(code, message, detail_xml=None, faultcode_ns=T):
    """A SOAP 1.1 fault as Exchange sends it: faultcode a:<code> (types
    namespace), e:ResponseCode / e:Message in detail, optional t:MessageXml."""
    f = etree.Element("{%s}Fault" % SOAP, nsmap={"s": SOAP})
    fc = etree.SubElement(f, "faultcode", nsmap={"a": faultcode_ns})
    fc.text = "a:" + code
    fs = etree.SubElement(f, "faultstring")
    fs.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    fs.text = message
    detail = etree.SubElement(f, "detail")
    rc = etree.SubElement(detail, "{%s}ResponseCode" % E, nsmap={"e": E})
    rc.text = code
    msg = etree.SubElement(detail, "{%s}Message" % E, nsmap={"e": E})
    msg.text = message
    if detail_xml is not None:
        detail.append(detail_xml)
    return f


def soap_fault(code, faultstring):
    """A plain SOAP-level fault (VersionMismatch, Client...)."""
    f = etree.Element("{%s}Fault" % SOAP, nsmap={"s": SOAP})
    fc = etree.SubElement(f, "faultcode")
    fc.text = "s:" + code
    fs = etree.SubElement(f, "faultstring")
    fs.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    fs.text = faultstring
    return f


def schema_fault(violation, line, col):
    mx = etree.Element(t("MessageXml"), nsmap={"t": T})
    el(mx, t("LineNumber"), line)
    el(mx, t("LinePosition"), col)
    el(mx, t("Violation"), violation)
    return fault("ErrorSchemaValidation",
                 "The request failed schema validation: %s" % violation, mx)


def busy_fault(backoff_ms):
    mx = etree.Element(t("MessageXml"), nsmap={"t": T})
    v = el(mx, t("Value"), int(backoff_ms))
    v.set("Name", "BackOffMilliseconds")
    return fault("ErrorServerBusy", "The server cannot service this request right now. Try again later.", mx)


def bool_text(v):
    return "true" if v else "false"


def parse_bool(s, default=False):
    if s is None:
        return default
    return s.strip() in ("true", "1")
