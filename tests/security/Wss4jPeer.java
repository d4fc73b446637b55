// Wss4jPeer - Apache WSS4J 1.6 (Debian's libwss4j-java) as the independent
// peer of mailchan's WS-Security, for tests/security/interop_test.py.
//
//   java Wss4jPeer verify KEYSTORE FILE
//       processes the Security header as the holder of KEYSTORE's key (decrypts,
//       verifies the signature, the certificate's trust and the Timestamp) and
//       prints "OK" and what was signed and encrypted, or "FAIL <reason>".
//   java Wss4jPeer build KEYSTORE SUITE KEYID REFLIST < plain > secured
//       signs (BST direct reference; Timestamp, Body, WS-Addressing headers)
//       then encrypts the Body content for alias "bob" as alias "alice".
//       KEYID: issuer_serial | ski.  REFLIST: inside | standalone.
// KEYSTORE is a JKS store with password "storepass" (tests/security/pki.sh).
import java.io.*;
import java.util.*;
import javax.security.auth.callback.*;
import javax.xml.namespace.QName;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.ws.security.*;
import org.apache.ws.security.components.crypto.*;
import org.apache.ws.security.message.*;
import org.w3c.dom.*;

public class Wss4jPeer {
    static final String WSA = "http://www.w3.org/2005/08/addressing";

    static Crypto crypto(String keystore) throws Exception {
        Properties p = new Properties();
        p.put("org.apache.ws.security.crypto.provider", "org.apache.ws.security.components.crypto.Merlin");
        p.put("org.apache.ws.security.crypto.merlin.keystore.type", "jks");
        p.put("org.apache.ws.security.crypto.merlin.keystore.password", "storepass");
        p.put("org.apache.ws.security.crypto.merlin.keystore.file", keystore);
        return CryptoFactory.getInstance(p);
    }

    static Document parse(InputStream in) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(in);
    }

    static final CallbackHandler PASSWORDS = callbacks -> {
        for (Callback c : callbacks)
            if (c instanceof WSPasswordCallback)
                ((WSPasswordCallback) c).setPassword("storepass");
    };

    static String name(Object o) {
        if (o instanceof QName)
            return ((QName) o).getLocalPart();
        return String.valueOf(o);
    }

    static int verify(String keystore, String file) throws Exception {
        Document doc = parse(new FileInputStream(file));
        Crypto c = crypto(keystore);
        WSSecurityEngine engine = new WSSecurityEngine();
        List<WSSecurityEngineResult> results;
        try {
            results = engine.processSecurityHeader(doc, null, PASSWORDS, c, c);
        } catch (WSSecurityException e) {
            System.out.println("FAIL " + e.getMessage());
            return 1;
        }
        if (results == null) {
            System.out.println("FAIL no Security header");
            return 1;
        }
        StringBuilder signed = new StringBuilder(), encrypted = new StringBuilder();
        boolean ts = false, sig = false;
        for (WSSecurityEngineResult r : results) {
            int action = (Integer) r.get(WSSecurityEngineResult.TAG_ACTION);
            if (action == WSConstants.TS)
                ts = true;
            Object refs = r.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
            if (!(refs instanceof List))
                continue;
            for (Object o : (List<?>) refs) {
                WSDataRef d = (WSDataRef) o;
                if (action == WSConstants.SIGN) {
                    sig = true;
                    signed.append(' ').append(name(d.getName()));
                } else if (action == WSConstants.ENCR) {
                    encrypted.append(' ').append(name(d.getName()));
                }
            }
        }
        if (!sig || !ts) {
            System.out.println("FAIL no signature or no timestamp processed");
            return 1;
        }
        System.out.println("OK signed:" + signed + " encrypted:" + encrypted);
        return 0;
    }

    static int build(String keystore, String suite, String keyid, String reflist) throws Exception {
        Document doc = parse(System.in);
        Crypto c = crypto(keystore);
        String soapns = doc.getDocumentElement().getNamespaceURI();
        boolean sha256 = suite.contains("Sha256"), rsa15 = suite.endsWith("Rsa15");
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(doc);
        WSSecTimestamp ts = new WSSecTimestamp();
        ts.setTimeToLive(3600);
        ts.build(doc, header);

        WSSecSignature sig = new WSSecSignature();
        sig.setUserInfo("alice", "storepass");
        sig.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        sig.setSignatureAlgorithm(sha256 ? "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" : WSConstants.RSA_SHA1);
        sig.setDigestAlgo(sha256 ? "http://www.w3.org/2001/04/xmlenc#sha256" : WSConstants.SHA1);
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        for (String h : new String[] {"Action", "MessageID", "To", "ReplyTo", "RelatesTo"})
            if (doc.getElementsByTagNameNS(WSA, h).getLength() > 0)
                parts.add(new WSEncryptionPart(h, WSA, ""));
        parts.add(new WSEncryptionPart("Body", soapns, ""));
        sig.setParts(parts);
        sig.build(doc, c, header);

        WSSecEncrypt enc = new WSSecEncrypt();
        enc.setUserInfo("bob");
        enc.setKeyIdentifierType(keyid.equals("ski") ? WSConstants.SKI_KEY_IDENTIFIER : WSConstants.ISSUER_SERIAL);
        enc.setSymmetricEncAlgorithm(WSConstants.AES_256);
        enc.setKeyEnc(rsa15 ? WSConstants.KEYTRANSPORT_RSA15 : WSConstants.KEYTRANSPORT_RSAOEP);
        List<WSEncryptionPart> encParts = new ArrayList<>();
        encParts.add(new WSEncryptionPart("Body", soapns, "Content"));
        enc.setParts(encParts);
        if (reflist.equals("standalone")) {
            enc.prepare(doc, c);
            Element refs = enc.encryptForRef(null, encParts);
            enc.addExternalRefElement(refs, header);
            enc.prependToHeader(header);
        } else {
            enc.build(doc, c, header);
        }
        TransformerFactory.newInstance().newTransformer().transform(new DOMSource(doc), new StreamResult(System.out));
        return 0;
    }

    public static void main(String[] args) throws Exception {
        WSSConfig.init();
        if (args.length == 3 && args[0].equals("verify"))
            System.exit(verify(args[1], args[2]));
        if (args.length == 5 && args[0].equals("build"))
            System.exit(build(args[1], args[2], args[3], args[4]));
        System.err.println("usage: Wss4jPeer verify KEYSTORE FILE | build KEYSTORE SUITE KEYID REFLIST");
        System.exit(2);
    }
}
