# Sieve rule for mailchan (Dovecot Pigeonhole, as a global sieve_before script
# or a user's own script): file mail stamped "[net.mail]" into "Service E-mail",
# the folder mailchan's IMAP transport watches. The header test decodes RFC 2047
# encoded words, so a non-ASCII channel name does not hide the stamp. Also match
# the X-Net-Mail-Channel header, which mailchan puts on every mail it sends.
require ["fileinto", "mailbox"];

if anyof (header :contains "subject" "[net.mail]",
          exists "x-net-mail-channel") {
    fileinto :create "Service E-mail";
    stop;
}
