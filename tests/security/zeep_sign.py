#!/usr/bin/python3
"""Signs a SOAP envelope with python3-zeep's BinarySignature (the certificate
travels as a BinarySecurityToken), after adding a wsu:Timestamp with zeep's
own helpers, as a zeep client with WS-Security does.

usage: zeep_sign.py KEY CERT sha1|sha256 < plain > signed"""
import sys
from datetime import datetime, timedelta, timezone

from lxml import etree
import xmlsec
from zeep import ns
from zeep.wsse.signature import BinarySignature
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

key, cert, digest = sys.argv[1:4]
envelope = etree.fromstring(sys.stdin.buffer.read())
security = get_security_header(envelope)
now = datetime.now(timezone.utc)
timestamp = WSU.Timestamp(WSU.Created(get_timestamp(now)), WSU.Expires(get_timestamp(now + timedelta(hours=1))))
security.append(timestamp)
methods = {"sha1": (xmlsec.Transform.RSA_SHA1, xmlsec.Transform.SHA1),
           "sha256": (xmlsec.Transform.RSA_SHA256, xmlsec.Transform.SHA256)}[digest]
BinarySignature(key, cert, signature_method=methods[0], digest_method=methods[1]).apply(envelope, {})
sys.stdout.buffer.write(etree.tostring(envelope))
