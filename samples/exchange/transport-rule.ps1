# Files mailchan's mail into the "Service E-mail" folder on Exchange Server
# 2019 / Subscription Edition, the way a Sieve rule does on Dovecot
# (samples/sieve/service-email.sieve). Run in the Exchange Management Shell.
#
# 1. The folder, a sibling of the Inbox, in the service's mailbox
#    (mailchan watches the Inbox until it exists, and finds it at the next
#    query once it does):
#      New-MailboxFolder -Parent "service@example.com:\" -Name "Service E-mail"
#    (New-MailboxFolder works on your own mailbox; for another one, let the
#    service create it with EWS CreateFolder, or use Outlook once.)
#
# 2. An Inbox rule in that mailbox that moves stamped mail there. mailchan
#    stamps every mail's Subject with "[net.mail] <channel>" (and adds the
#    header X-Net-Mail-Channel). Transport rules (New-TransportRule) act on
#    mail in transit and cannot file it into a folder: the Inbox rule does.
New-InboxRule -Mailbox "service@example.com" -Name "mailchan: Service E-mail" `
    -SubjectContainsWords "[net.mail]" `
    -MoveToFolder "service@example.com:\Service E-mail" `
    -StopProcessingRules $true

# 3. A service account acting for several device mailboxes (ews_impersonate):
New-ManagementRoleAssignment -Name "mailchan impersonation" `
    -Role ApplicationImpersonation -User "svc-mailchan@example.com"
