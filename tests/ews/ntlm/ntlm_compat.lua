-- Re-frames libcurl's NTLM messages so that Debian 12's gss-ntlmssp (1.2.0)
-- can parse them; it decides nothing. Loaded by the Apache of start.sh
-- (LuaHookAccessChecker, which runs before mod_auth_gssapi authenticates).
--
-- libcurl (7.88, its own NTLM code, any TLS flavour) writes the NTLM
-- messages without the 8-byte VERSION structure, as MS-NLMP allows and as
-- Windows accepts. gss-ntlmssp 1.2.0 expects it:
--   * a NEGOTIATE_MESSAGE (type 1) shorter than 40 bytes is "Failed to
--     decode data": curl's is 32 bytes. Fix: append 8 zero bytes (an empty
--     VERSION; the message carries no payload that could move);
--   * an AUTHENTICATE_MESSAGE (type 3) whose flags carry
--     NTLMSSP_NEGOTIATE_VERSION is read with its payload starting at 72:
--     curl copies that flag from the server's challenge but puts its
--     payload at 64, so the first field is "Failed to decode data". Fix:
--     clear that flag bit when the payload starts before 72.
-- Neither change touches what gss-ntlmssp verifies: the NTLMv2 response
-- (an HMAC-MD5 over the server challenge, a client blob and the user's NT
-- hash) and the user and domain names are passed on byte for byte; the
-- flags of a type 3 message are not covered by that response, gss-ntlmssp
-- uses its own negotiated flags, and curl sends no MIC. A wrong password,
-- an unknown user or a tampered response still fails in gss-ntlmssp.
-- Any other header (Negotiate, Basic, or an NTLM message that needs no
-- change) is left alone.
require "apache2"

local NEGOTIATE_VERSION = 0x02000000

function reframe(r)
    local h = r.headers_in["Authorization"]
    if not h then return apache2.DECLINED end
    local scheme, token = h:match("^(%S+)%s+(%S+)%s*$")
    if not scheme or scheme:lower() ~= "ntlm" then return apache2.DECLINED end
    local msg = r:base64_decode(token)
    if not msg or #msg < 12 or msg:sub(1, 8) ~= "NTLMSSP\0" then return apache2.DECLINED end
    local mtype = string.unpack("<I4", msg, 9)
    local new, what
    if mtype == 1 and #msg >= 16 and #msg < 40 then
        new = msg .. string.rep("\0", 40 - #msg)
        what = "type 1: appended an empty VERSION"
    elseif mtype == 3 and #msg >= 64 then
        local flags = string.unpack("<I4", msg, 61)
        if flags & NEGOTIATE_VERSION ~= 0 then
            -- LM, NT, domain, user, workstation, session key: len, maxlen, offset
            local lowest = math.huge
            for i = 0, 5 do
                local len, _, off = string.unpack("<I2I2I4", msg, 13 + 8 * i)
                if len > 0 and off < lowest then lowest = off end
            end
            if lowest < 72 then
                new = msg:sub(1, 60) .. string.pack("<I4", flags & ~NEGOTIATE_VERSION) .. msg:sub(65)
                what = "type 3: cleared NEGOTIATE_VERSION (no VERSION structure, payload at " .. lowest .. ")"
            end
        end
    end
    if new then
        r.headers_in["Authorization"] = "NTLM " .. r:base64_encode(new)
        r:info("ntlm_compat: " .. what)
    end
    return apache2.DECLINED
end
