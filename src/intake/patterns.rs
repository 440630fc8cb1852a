//! The recognised forms, as data: one row per thing an MTA prints, in precedence order.
//!
//! Each row names the MTA family that prints it, a regex, the fields its named groups
//! supply, a real example (a test checks that every row matches its own example and
//! supplies every declared field from it) and a short form that tells the operator
//! what was looked for when nothing matched.
//!
//! Precedence: for each field, the first row in this table that supplies it wins, so
//! the more specific and more useful rows come first (a remote server's own reply text
//! before a generic status line, an MTA's own wording before DSN fields, and family
//! signatures last, so they only name the MTA when nothing more specific did).
//!
//! Regexes are written with placeholders for the pieces that recur, expanded once at
//! start-up (see [`FRAGMENTS`]); every row is matched with `(?m)`, so `^`/`$` anchor at
//! line ends of the prepared text (continuation lines already joined).

use super::MtaFamily;
use Field::{Age, AgeSeconds, Code, Host, Ip, Phrase, Port, Rcpt, Status};
use MtaFamily::{Exchange, Exim, Other, Postfix, Qmail, Sendmail};

/// A value a row can supply; its named capture group in the regex is [`Field::group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// `rcpt`: a recipient address; also gives the domain.
    Rcpt,
    /// `host`: a relay or MX host name (an IP literal here is taken as the address).
    Host,
    /// `ip`: the relay's IP address.
    Ip,
    /// `port`: the relay's TCP port.
    Port,
    /// `phrase`: the error text.
    Phrase,
    /// `code`: the three-digit SMTP reply code.
    Code,
    /// `status`: the RFC 3463 enhanced status code.
    Status,
    /// `age`: how long the message has waited, kept as written.
    Age,
    /// `age_s`: a delay in seconds (Postfix `delay=`), shown with an `s` unit.
    AgeSeconds,
}

impl Field {
    /// Every field, so tests can check that the table uses no other group names.
    #[cfg(test)]
    pub(super) const ALL: [Field; 9] = [
        Field::Rcpt,
        Field::Host,
        Field::Ip,
        Field::Port,
        Field::Phrase,
        Field::Code,
        Field::Status,
        Field::Age,
        Field::AgeSeconds,
    ];

    pub(super) fn group(self) -> &'static str {
        match self {
            Field::Rcpt => "rcpt",
            Field::Host => "host",
            Field::Ip => "ip",
            Field::Port => "port",
            Field::Phrase => "phrase",
            Field::Code => "code",
            Field::Status => "status",
            Field::Age => "age",
            Field::AgeSeconds => "age_s",
        }
    }

    /// Whether this field can name something to probe (and so ends a `NotFound`).
    pub(super) fn names_destination(self) -> bool {
        matches!(self, Field::Rcpt | Field::Host | Field::Ip)
    }
}

/// One recognised form.
#[derive(Debug)]
pub(super) struct Pattern {
    /// Stable kebab-case name, used in tests and reports.
    pub name: &'static str,
    /// The MTA family whose output this is; `None` for forms any MTA writes (DSN fields).
    pub family: Option<MtaFamily>,
    /// A short sketch of the form, listed in `NotFound` when it names a destination.
    pub form: &'static str,
    /// The regex source, with `%NAME%` placeholders from [`FRAGMENTS`].
    pub regex: &'static str,
    /// The fields its named groups supply (a test checks these equal the groups).
    pub extracts: &'static [Field],
    /// A realistic line this row must match, supplying every field in `extracts`.
    pub example: &'static str,
}

/// Pieces that recur across rows; kept loose on purpose, the values are validated
/// after matching (host names through `Target::parse`, addresses through `IpAddr`).
/// Long counted repetitions are avoided: each `{0,252}` is compiled as 252 copies,
/// which cost megabytes of memory across the table for no gain in precision.
pub(super) const FRAGMENTS: &[(&str, &str)] = &[
    ("%HOST%", r"[A-Za-z0-9_][A-Za-z0-9_.-]*"),
    ("%IP%", r"[0-9A-Fa-f:.][0-9A-Fa-f:.]+"),
    ("%PORT%", r"[0-9]{1,5}"),
    ("%CODE%", r"[2-5][0-9][0-9]"),
    ("%STATUS%", r"[245]\.[0-9]{1,3}\.[0-9]{1,3}"),
    // Last: its expansion contains `%`, which must not be read as a placeholder.
    ("%RCPT%", r"[A-Za-z0-9._%+=!#$&'*/?^{|}~-]+@[A-Za-z0-9.-]+"),
];

pub(super) const PATTERNS: &[Pattern] = &[
    // ---- Postfix smtp(8) -------------------------------------------------------------
    Pattern {
        name: "postfix-remote-said",
        family: Some(Postfix),
        form: "host mx[ip] said: …",
        regex: r"\bhost (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\] said: (?P<code>%CODE%)[ -](?:(?P<status>%STATUS%) )?(?P<phrase>[^\n]*?)(?: \(in reply to [^()\n]*\))?\)?[ \t]*$",
        extracts: &[Host, Ip, Code, Status, Phrase],
        example: "<user@example.com>: host mx.example.com[192.0.2.1] said: 454 4.7.0 TLS not available due to temporary reason (in reply to STARTTLS command)",
    },
    Pattern {
        name: "postfix-tls-refused",
        family: Some(Postfix),
        form: "TLS is required, but host mx[ip] refused to start TLS",
        regex: r"(?P<phrase>TLS is required, but host (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\] refused to start TLS: (?:(?P<code>%CODE%)[ -](?:(?P<status>%STATUS%) )?)?[^\n]*?)\)?[ \t]*$",
        extracts: &[Host, Ip, Code, Status, Phrase],
        example: "status=deferred (TLS is required, but host mx.example.com[192.0.2.1] refused to start TLS: 454 4.7.0 TLS not available due to temporary reason)",
    },
    Pattern {
        name: "postfix-tls-not-offered",
        family: Some(Postfix),
        form: "TLS is required, but was not offered by host mx[ip]",
        regex: r"(?P<phrase>TLS is required, but was not offered by host (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\])",
        extracts: &[Host, Ip, Phrase],
        example: "dsn=4.7.4, status=deferred (TLS is required, but was not offered by host mx.example.com[192.0.2.1])",
    },
    Pattern {
        name: "postfix-status-line",
        family: Some(Postfix),
        form: "to=<rcpt>, relay=mx[ip]:port, … status=",
        regex: r"\bto=<(?P<rcpt>%RCPT%)>,[^\n]*?\brelay=(?:(?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\](?::(?P<port>%PORT%))?)?[^,\n]*,[^\n]*?\bdelay=(?P<age_s>[0-9]{1,9}(?:\.[0-9]{1,3})?),[^\n]*?\bdsn=(?P<status>%STATUS%), status=(?:deferred|bounced|expired|undeliverable) \((?P<phrase>[^\n]*)\)[ \t]*$",
        extracts: &[Rcpt, Host, Ip, Port, AgeSeconds, Status, Phrase],
        example: "Mar  3 10:00:01 mail postfix/smtp[4242]: 4QxYz1AbCd: to=<user@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=3601, delays=3600/0.01/0.4/0, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)",
    },
    Pattern {
        name: "postfix-lost-connection",
        family: Some(Postfix),
        form: "lost connection with mx[ip] while …",
        regex: r"(?P<phrase>lost connection with (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\] while [^()\n]*[^()\s])",
        extracts: &[Host, Ip, Phrase],
        example: "status=deferred (lost connection with mx.example.com[192.0.2.1] while receiving the STARTTLS response)",
    },
    Pattern {
        name: "postfix-timed-out",
        family: Some(Postfix),
        form: "conversation with mx[ip] timed out while …",
        regex: r"(?P<phrase>conversation with (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\] timed out while [^()\n]*[^()\s])",
        extracts: &[Host, Ip, Phrase],
        example: "status=deferred (conversation with mx.example.com[192.0.2.1] timed out while performing the EHLO handshake)",
    },
    Pattern {
        name: "postfix-ssl-connect-error",
        family: Some(Postfix),
        form: "SSL_connect error to mx[ip]:port",
        regex: r"(?P<phrase>SSL_connect error to (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\]:(?P<port>%PORT%)(?::[^\n]*)?)",
        extracts: &[Host, Ip, Port, Phrase],
        example: "postfix/smtp[4242]: SSL_connect error to mx.example.com[192.0.2.1]:25: lost connection",
    },
    Pattern {
        name: "postfix-certificate-verification-failed",
        family: Some(Postfix),
        form: "certificate verification failed for mx[ip]:port",
        regex: r"(?P<phrase>certificate verification failed for (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\]:(?P<port>%PORT%):[^\n]*)",
        extracts: &[Host, Ip, Port, Phrase],
        example: "postfix/smtp[4242]: certificate verification failed for mx.example.com[192.0.2.1]:25: untrusted issuer /CN=Example Private CA",
    },
    Pattern {
        name: "postfix-connect-to",
        family: Some(Postfix),
        form: "connect to mx[ip]:port: …",
        regex: r"(?P<phrase>connect to (?P<host>%HOST%)\[(?:IPv6:)?(?P<ip>%IP%)\]:(?P<port>%PORT%): [^()\n]*[^()\s])",
        extracts: &[Host, Ip, Port, Phrase],
        example: "status=deferred (connect to mx.example.com[192.0.2.1]:25: Connection timed out)",
    },
    Pattern {
        name: "postfix-tls-engine-unavailable",
        family: Some(Postfix),
        form: "TLS is required, but our TLS engine is unavailable",
        regex: r"(?P<phrase>TLS is required, but our TLS engine is unavailable)",
        extracts: &[Phrase],
        example: "dsn=4.7.5, status=deferred (TLS is required, but our TLS engine is unavailable)",
    },
    Pattern {
        name: "postfix-tls-library-problem",
        family: Some(Postfix),
        form: "warning: TLS library problem: …",
        regex: r"warning: TLS library problem: (?P<phrase>[^\n]*)",
        extracts: &[Phrase],
        example: "postfix/smtp[4242]: warning: TLS library problem: error:0A00010B:SSL routines::wrong version number:../ssl/record/ssl3_record.c:354:",
    },
    // ---- qmail family (netqmail + TLS patch, and qmail-derived engines) ---------------
    Pattern {
        name: "qmail-died-negotiating-starttls",
        family: Some(Qmail),
        form: "connection died while negotiating STARTTLS",
        regex: r"(?i)(?P<phrase>(?:connected to (?P<ip>%IP%) but )?connection died while negotiating (?:STARTTLS|SMTPS)(?: TLS)?)(?:[^\n]*?[ (#](?P<status>4\.4\.[0-9]{1,3})\b)?",
        extracts: &[Ip, Phrase, Status],
        example: "Connected to 192.0.2.1 but connection died while negotiating STARTTLS TLS (#4.4.2)",
    },
    Pattern {
        name: "qmail-connection-died",
        family: Some(Qmail),
        form: "Connected to ip but connection died. (#4.4.2)",
        regex: r"(?P<phrase>Connected to (?P<ip>%IP%) but connection died\.[^(\n]*?)[ \t]*\(#(?P<status>%STATUS%)\)",
        extracts: &[Ip, Phrase, Status],
        example: "Connected to 192.0.2.1 but connection died. (#4.4.2)",
    },
    Pattern {
        name: "qmail-connected-to",
        family: Some(Qmail),
        form: "Connected to ip but connection died",
        regex: r"(?P<phrase>Connected to (?P<ip>%IP%) but connection died(?:[^(\n]*[^(\s])?)",
        extracts: &[Ip, Phrase],
        example: "Connected to 192.0.2.1 but connection died; giving up.",
    },
    Pattern {
        name: "qmail-tls-connect-failed",
        family: Some(Qmail),
        form: "TLS connect failed: …; connecting to ip",
        regex: r"(?P<phrase>TLS connect failed: [^\n]*?); connecting to (?P<ip>%IP%)",
        extracts: &[Ip, Phrase],
        example: "TLS connect failed: error:0A000410:SSL routines::sslv3 alert handshake failure; connecting to 192.0.2.1.",
    },
    Pattern {
        name: "qmail-tls-not-achieved",
        family: Some(Qmail),
        form: "STARTTLS rejected while …; connecting to ip",
        regex: r"(?P<phrase>(?:STARTTLS rejected|No TLS achieved) while [^\s;]+ exists)(?:; connecting to (?P<ip>%IP%))?",
        extracts: &[Ip, Phrase],
        example: "STARTTLS rejected while control/tlshosts/mx.example.com.pem exists; connecting to 192.0.2.1.",
    },
    Pattern {
        name: "qmail-tls-unable-to-verify",
        family: Some(Qmail),
        form: "TLS unable to verify server …; connected to ip",
        regex: r"(?P<phrase>TLS unable to verify server [^;\n]*[^;\s])(?:; connected to (?P<ip>%IP%))?",
        extracts: &[Ip, Phrase],
        example: "TLS unable to verify server with control/tlshosts/mx.example.com.pem: certificate has expired; connected to 192.0.2.1.",
    },
    Pattern {
        name: "qmail-no-smtp-connection",
        family: Some(Qmail),
        form: "Sorry, I wasn't able to establish an SMTP connection",
        regex: r"(?P<phrase>Sorry, I wasn't able to establish an SMTP connection\.)(?:[ \t]*\(#(?P<status>%STATUS%)\))?",
        extracts: &[Phrase, Status],
        example: "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)",
    },
    Pattern {
        name: "qmail-remote-host-said",
        family: Some(Qmail),
        form: "Remote host said: …",
        regex: r"Remote host said: (?P<code>%CODE%)[ -](?:(?P<status>%STATUS%) )?(?P<phrase>[^\n]*)",
        extracts: &[Code, Status, Phrase],
        example: "Remote host said: 454 4.7.0 TLS not available due to temporary reason",
    },
    Pattern {
        name: "qmail-giving-up",
        family: Some(Qmail),
        form: "Giving up on ip",
        regex: r"Giving up on (?P<ip>%IP%)",
        extracts: &[Ip],
        example: "Giving up on 192.0.2.1.",
    },
    Pattern {
        name: "qmail-starting-delivery",
        family: Some(Qmail),
        form: "starting delivery n: msg n to remote rcpt",
        regex: r"starting delivery [0-9]+: msg [0-9]+ to remote (?P<rcpt>%RCPT%)",
        extracts: &[Rcpt],
        example: "@400000006602a1b2c3d4e5f6 starting delivery 7: msg 1234567 to remote user@example.com",
    },
    Pattern {
        name: "qmail-queue-too-long",
        family: Some(Qmail),
        form: "in the queue too long",
        regex: r"I'm not going to try again; this message has been (?P<age>in the queue too long)",
        extracts: &[Age],
        example: "I'm not going to try again; this message has been in the queue too long.",
    },
    // ---- Exim ---------------------------------------------------------------------------
    Pattern {
        name: "exim-delivery-line",
        family: Some(Exim),
        form: "msgid == rcpt R=… T=… H=mx [ip]",
        regex: r"(?:\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} )?(?:==|\*\*) (?P<rcpt>%RCPT%)(?: <[^>\n]*>)?(?: [RT]=[^ :\n]+)+(?: defer \(-?[0-9]{1,4}\))?(?:[^\n]*? H=(?P<host>%HOST%) \[(?:IPv6:)?(?P<ip>%IP%)\](?::(?P<port>%PORT%))?)?[^\n]*?: (?P<phrase>[^\n]*)$",
        extracts: &[Rcpt, Host, Ip, Port, Phrase],
        example: "2024-03-03 10:00:01 1rABCD-000123-AB == user@example.com R=dnslookup T=remote_smtp defer (-37) H=mx.example.com [192.0.2.1]:2525: TLS session: (SSL_connect): error:0A000410:SSL routines::sslv3 alert handshake failure",
    },
    Pattern {
        name: "exim-tls-error-on-connection",
        family: Some(Exim),
        form: "H=mx [ip] TLS error on connection (…)",
        regex: r"H=(?P<host>%HOST%) \[(?:IPv6:)?(?P<ip>%IP%)\](?::(?P<port>%PORT%))? (?P<phrase>TLS error on connection \([a-z_]+\)[^\n]*)",
        extracts: &[Host, Ip, Port, Phrase],
        example: "2024-03-03 10:00:01 1rABCD-000123-AB H=mx.example.com [192.0.2.1]:25 TLS error on connection (gnutls_handshake): The TLS connection was non-properly terminated.",
    },
    Pattern {
        name: "exim-dane-failed",
        family: Some(Exim),
        form: "DANE attempt failed; TLS connection to mx [ip]",
        regex: r"(?P<phrase>DANE attempt failed; TLS connection to (?P<host>%HOST%) \[(?:IPv6:)?(?P<ip>%IP%)\][^\n]*)",
        extracts: &[Host, Ip, Phrase],
        example: "DANE attempt failed; TLS connection to mx.example.com [192.0.2.1]: (SSL_connect): error:0A000086:SSL routines::certificate verify failed",
    },
    Pattern {
        name: "exim-bounce-address",
        family: Some(Exim),
        form: "rcpt host mx [ip] (bounce body)",
        regex: r"^[ \t]+(?P<rcpt>%RCPT%) host (?P<host>%HOST%) \[(?:IPv6:)?(?P<ip>%IP%)\](?::[0-9]{1,5})?:? (?P<phrase>[^\n]*)",
        extracts: &[Rcpt, Host, Ip, Phrase],
        example: "  user@example.com host mx.example.com [192.0.2.1] a TLS session is required, but an attempt to start TLS failed",
    },
    Pattern {
        name: "exim-tls-required",
        family: Some(Exim),
        form: "a TLS session is required, but …",
        regex: r"(?P<phrase>a TLS session is required(?: for [^,\n]+)?, but (?:an attempt to start TLS failed|the server did not offer TLS support))",
        extracts: &[Phrase],
        example: "defer (-38) H=mx.example.com [192.0.2.1]: a TLS session is required, but the server did not offer TLS support",
    },
    Pattern {
        name: "exim-x-failed-recipients",
        family: Some(Exim),
        form: "X-Failed-Recipients: rcpt",
        regex: r"(?i)^X-Failed-Recipients:[ \t]*(?P<rcpt>%RCPT%)",
        extracts: &[Rcpt],
        example: "X-Failed-Recipients: user@example.com",
    },
    Pattern {
        name: "exim-retry-timeout",
        family: Some(Exim),
        form: "retry timeout exceeded",
        regex: r"(?P<age>retry timeout exceeded)",
        extracts: &[Age],
        example: "** user@example.com R=dnslookup T=remote_smtp: retry timeout exceeded",
    },
    Pattern {
        name: "exim-delay-warning",
        family: Some(Exim),
        form: "after more than N hours on the queue",
        regex: r"after more than (?P<age>[0-9]{1,5} (?:minutes?|hours?|days?)) on the queue",
        extracts: &[Age],
        example: "has not yet been delivered to one or more of its recipients after more than 24 hours on the queue on mail.sender.example.",
    },
    // ---- Sendmail -------------------------------------------------------------------------
    Pattern {
        name: "sendmail-ruleset-tls-server",
        family: Some(Sendmail),
        form: "ruleset=tls_server, … relay=mx, reject=…",
        regex: r"ruleset=tls_server, arg1=[^,\n]*, relay=(?P<host>%HOST%)?(?: ?\[(?:IPv6:)?(?P<ip>%IP%)\])?(?: \(may be forged\))?,[^\n]*?\breject=(?P<code>%CODE%) (?:(?P<status>%STATUS%) )?(?P<phrase>[^\n]*)",
        extracts: &[Host, Ip, Code, Status, Phrase],
        example: "sm-mta[812]: 42CAB01234: ruleset=tls_server, arg1=SOFTWARE, relay=mx.example.com. [192.0.2.1], reject=403 4.7.0 TLS handshake failed.",
    },
    Pattern {
        name: "sendmail-delivery-line",
        family: Some(Sendmail),
        form: "to=<rcpt>, delay=…, relay=mx [ip], … stat=",
        regex: r"\bto=<?(?P<rcpt>%RCPT%)>?,[^\n]*?\bdelay=(?P<age>[0-9+:]{1,16}),[^\n]*?\brelay=(?P<host>%HOST%)?(?: ?\[(?:IPv6:)?(?P<ip>%IP%)\])?(?: \(may be forged\))?,[^\n]*?\bstat=[A-Za-z][^:\n]*: (?:(?P<code>%CODE%) (?:(?P<status>%STATUS%) )?)?(?P<phrase>[^\n]*)",
        extracts: &[Rcpt, Age, Host, Ip, Code, Status, Phrase],
        example: "sm-mta[812]: 42CAB01234: to=<user@example.com>, delay=00:00:03, xdelay=00:00:03, mailer=esmtp, pri=120321, relay=mx.example.com. [192.0.2.1], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.",
    },
    Pattern {
        name: "sendmail-bounce-recipient",
        family: Some(Sendmail),
        form: "<rcpt>... Deferred: …",
        regex: r"^<?(?P<rcpt>%RCPT%)>?\.\.\. [A-Za-z][^:\n]*: (?:(?P<code>%CODE%) (?:(?P<status>%STATUS%) )?)?(?P<phrase>[^\n]*)",
        extracts: &[Rcpt, Code, Status, Phrase],
        example: "<user@example.com>... Deferred: 403 4.7.0 TLS handshake failed.",
    },
    Pattern {
        name: "sendmail-starttls-error",
        family: Some(Sendmail),
        form: "STARTTLS=client, error: …, relay=mx",
        regex: r"(?P<phrase>STARTTLS=client, error: [^\n]*?)(?:, relay=(?P<host>%HOST%)?(?: ?\[(?:IPv6:)?(?P<ip>%IP%)\])?)?[ \t]*$",
        extracts: &[Host, Ip, Phrase],
        example: "sm-mta[812]: STARTTLS=client, error: connect failed=0, reason=unknown, SSL_error=5, errno=104, retry=-1, relay=mx.example.com. [192.0.2.1]",
    },
    Pattern {
        name: "sendmail-starttls-io-error",
        family: Some(Sendmail),
        form: "STARTTLS: write error=…",
        regex: r"(?P<phrase>STARTTLS: (?:read|write) error=[^\n]*)",
        extracts: &[Phrase],
        example: "sm-mta[812]: STARTTLS: write error=syscall error (-1), errno=104, get_error=error:00000005:lib(0):func(0):DH lib, retry=99, ssl_err=5",
    },
    Pattern {
        name: "sendmail-starttls-client",
        family: Some(Sendmail),
        form: "STARTTLS=client, relay=mx, … verify=",
        regex: r"STARTTLS=client, relay=(?P<host>%HOST%)?(?: ?\[(?:IPv6:)?(?P<ip>%IP%)\])?, version=[^,\n]*, (?:verify=OK\b|(?P<phrase>verify=[A-Z_]+))",
        extracts: &[Host, Ip, Phrase],
        example: "sm-mta[812]: STARTTLS=client, relay=mx.example.com. [192.0.2.1], version=TLSv1.3, verify=FAIL, cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
    },
    Pattern {
        name: "sendmail-while-talking-to",
        family: Some(Sendmail),
        form: "while talking to mx.:",
        regex: r"while talking to (?P<host>%HOST%):",
        extracts: &[Host],
        example: "... while talking to mx.example.com.:",
    },
    Pattern {
        name: "sendmail-delay-warning",
        family: Some(Sendmail),
        form: "could not send message for past N hours",
        regex: r"(?:could not send message for past|Message could not be delivered for) (?P<age>[0-9]{1,5} (?:minutes?|hours?|days?))",
        extracts: &[Age],
        example: "**********************************************\n**      THIS IS A WARNING MESSAGE ONLY      **\nWarning: could not send message for past 4 hours",
    },
    // ---- Microsoft Exchange / Exchange Online (NDR-specific text) -----------------------
    Pattern {
        name: "exchange-cannot-connect",
        family: Some(Exchange),
        form: "450 4.4.317 … [Message=…]",
        regex: r"(?P<code>%CODE%) (?P<status>%STATUS%) [^\[\n']{0,200}\[Message=(?:%CODE%[ -](?:%STATUS% )?)?(?P<phrase>[^\]\n]+)\]",
        extracts: &[Code, Status, Phrase],
        example: "Remote Server returned '450 4.4.317 Cannot connect to remote server [Message=451 5.7.3 STARTTLS is required to send mail] [LastAttemptedServerName=mx.example.com] [LastAttemptedIP=192.0.2.1:25]'",
    },
    Pattern {
        name: "exchange-last-attempted-server",
        family: Some(Exchange),
        form: "[LastAttemptedServerName=mx]",
        regex: r"\[LastAttemptedServerName=(?P<host>%HOST%)\]",
        extracts: &[Host],
        example: "[LastAttemptedServerName=mx.example.com]",
    },
    Pattern {
        name: "exchange-last-attempted-ip",
        family: Some(Exchange),
        form: "[LastAttemptedIP=ip:port]",
        regex: r"\[LastAttemptedIP=(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{1,45})(?::(?P<port>%PORT%))?\]",
        extracts: &[Ip, Port],
        example: "[LastAttemptedIP=192.0.2.1:25]",
    },
    Pattern {
        name: "exchange-last-error",
        family: Some(Exchange),
        form: "{LED=…}",
        regex: r"\{LED=(?:(?P<code>%CODE%)[ -](?:(?P<status>%STATUS%) )?)?(?P<phrase>[^}\n]+)\}",
        extracts: &[Code, Status, Phrase],
        example: "[{LED=451 5.7.3 STARTTLS is required to send mail};{MSG=};{FQDN=mx.example.com};{IP=192.0.2.1};{LRT=3/3/2024 9:00:00 AM}]",
    },
    Pattern {
        name: "exchange-fqdn",
        family: Some(Exchange),
        form: "{FQDN=mx}",
        regex: r"\{FQDN=(?P<host>%HOST%)\}",
        extracts: &[Host],
        example: "{FQDN=mx.example.com};{IP=192.0.2.1}",
    },
    Pattern {
        name: "exchange-ip",
        family: Some(Exchange),
        form: "{IP=ip}",
        regex: r"\{IP=(?P<ip>%IP%)\}",
        extracts: &[Ip],
        example: "{FQDN=mx.example.com};{IP=192.0.2.1}",
    },
    Pattern {
        name: "exchange-remote-server-at",
        family: Some(Exchange),
        form: "Remote Server at mx (ip) returned '…'",
        regex: r"Remote Server at (?P<host>%HOST%) \((?:IPv6:)?(?P<ip>%IP%)\) returned '(?:(?P<code>%CODE%) (?:(?P<status>%STATUS%) )?)?(?P<phrase>[^'\n]*)'",
        extracts: &[Host, Ip, Code, Status, Phrase],
        example: "Remote Server at mx.example.com (192.0.2.1) returned '451 5.7.3 STARTTLS is required to send mail'",
    },
    Pattern {
        name: "exchange-ndr-recipient",
        family: Some(Exchange),
        form: "rcpt, then Remote Server returned",
        regex: r"^(?P<rcpt>%RCPT%)\s+Remote Server (?:at [^\n]{1,300} )?returned",
        extracts: &[Rcpt],
        example: "user@example.com\nRemote Server returned '450 4.4.317 Cannot connect to remote server'",
    },
    Pattern {
        name: "exchange-queue-expired",
        family: Some(Exchange),
        form: "QUEUE.Expired",
        regex: r"(?P<age>QUEUE\.Expired(?:; message expired)?)",
        extracts: &[Age],
        example: "Remote Server returned '550 4.4.7 QUEUE.Expired; message expired'",
    },
    // ---- Others: Gmail, client tools, appliances -----------------------------------------
    Pattern {
        name: "gmail-tls-negotiation-failed",
        family: Some(Other),
        form: "TLS Negotiation failed, …",
        regex: r"(?P<phrase>TLS Negotiation failed, [^\n]*[^\s])",
        extracts: &[Phrase],
        example: "The response was: TLS Negotiation failed, the certificate doesn't match the host.",
    },
    Pattern {
        name: "gmail-not-delivered-to",
        family: Some(Other),
        form: "wasn't delivered to rcpt",
        regex: r"(?:(?:wasn't|was not|couldn't be|could not be|hasn't been|has not been) delivered|a problem delivering your message) to (?P<rcpt>%RCPT%)",
        extracts: &[Rcpt],
        example: "Your message wasn't delivered to user@example.com because the remote server did not accept a secure connection.",
    },
    Pattern {
        name: "gmail-host-bracket",
        family: Some(Other),
        form: "[mx. ip]",
        // The reason after the colon is optional: some bounces print `[mx.host. ip]`.
        // The host must be dotted, so a bracketed word and a number are not taken for it.
        regex: r"\[(?P<host>%HOST%\.[A-Za-z0-9_.-]*) (?P<ip>%IP%)(?:: [^\]\n]+)?\]",
        extracts: &[Host, Ip],
        example: "Learn more at https://support.google.com/mail/answer/7720 [mx.example.com. 192.0.2.1: timed out]",
    },
    Pattern {
        name: "gmail-retry-window",
        family: Some(Other),
        form: "will retry for N more hours",
        regex: r"will retry for (?P<age>[0-9]{1,4} more (?:minutes?|hours?|days?))",
        extracts: &[Age],
        example: "Gmail will retry for 46 more hours. You'll be notified if the delivery fails permanently.",
    },
    Pattern {
        name: "swaks-trying",
        family: Some(Other),
        form: "=== Trying mx:port...",
        regex: r"=== Trying (?P<host>%HOST%):(?P<port>%PORT%)\.\.\.",
        extracts: &[Host, Port],
        example: "=== Trying mx.example.com:25...",
    },
    Pattern {
        name: "swaks-to",
        family: Some(Other),
        form: "swaks --to rcpt",
        regex: r"\bswaks\b[^\n]*?(?:--to|-t)[ =](?P<rcpt>%RCPT%)",
        extracts: &[Rcpt],
        example: "$ swaks --to user@example.com --server mx.example.com --tls",
    },
    Pattern {
        name: "swaks-tls-failed",
        family: Some(Other),
        form: "*** TLS startup failed",
        regex: r"\*\*\* (?P<phrase>(?:TLS startup failed|STARTTLS attempted but failed)[^\n]*)",
        extracts: &[Phrase],
        example: "*** TLS startup failed (connect(): error:0A00010B:SSL routines::wrong version number)",
    },
    Pattern {
        name: "openssl-s-client-connect",
        family: Some(Other),
        form: "openssl s_client -connect mx:port",
        regex: r"\bs_client\b[^\n]*?-connect[ \t]+(?P<host>%HOST%):(?P<port>%PORT%)",
        extracts: &[Host, Port],
        example: "$ openssl s_client -starttls smtp -connect mx.example.com:25 -servername mx.example.com",
    },
    Pattern {
        name: "openssl-no-starttls",
        family: Some(Other),
        form: "Didn't find STARTTLS in server response",
        regex: r"(?i)(?P<phrase>didn't find starttls in server response, try(?:ing)? anyway\.*)",
        extracts: &[Phrase],
        example: "Didn't find STARTTLS in server response, trying anyway...",
    },
    Pattern {
        name: "testssl-starttls-failed",
        family: Some(Other),
        form: "STARTTLS handshake failed (code: N)",
        regex: r"(?P<phrase>STARTTLS handshake failed \(code: [0-9]{1,5}\))",
        extracts: &[Phrase],
        example: " Oops: STARTTLS handshake failed (code: 2)",
    },
    Pattern {
        name: "sslyze-starttls",
        family: Some(Other),
        form: "SMTP STARTTLS not supported",
        regex: r"(?P<phrase>SMTP STARTTLS not supported|SMTP EHLO was rejected)",
        extracts: &[Phrase],
        example: "ERROR: SMTP STARTTLS not supported",
    },
    Pattern {
        name: "opensmtpd-session-error",
        family: Some(Other),
        form: "smtp-out: Error on session …",
        regex: r"smtp-out: Error on session [0-9a-f]{1,32}: (?P<phrase>[^\n]*)",
        extracts: &[Phrase],
        example: "smtpd[321]: smtp-out: Error on session 8d2bd1c0e5e7c0a1: IO Error: error:0A000086:SSL routines::certificate verify failed",
    },
    Pattern {
        name: "cisco-esa-starttls-not-supported",
        family: Some(Other),
        form: "DCID n STARTTLS command not supported",
        regex: r"DCID [0-9]+ (?P<phrase>STARTTLS command not supported)",
        extracts: &[Phrase],
        example: "Info: DCID 41234 STARTTLS command not supported",
    },
    Pattern {
        name: "symantec-starttls-not-advertised",
        family: Some(Other),
        form: "451 4.7.6 [internal] STARTTLS required but not advertised",
        regex: r"(?P<code>451) (?P<status>4\.7\.6) (?P<phrase>\[internal\] STARTTLS required but not advertised)",
        extracts: &[Code, Status, Phrase],
        example: "451 4.7.6 [internal] STARTTLS required but not advertised",
    },
    Pattern {
        name: "sendgrid-tls-required",
        family: Some(Other),
        form: "tls required but not supported",
        regex: r"(?i)(?P<phrase>tls required but not supported)",
        extracts: &[Phrase],
        example: "reason: TLS required but not supported",
    },
    // ---- Remote replies that name the receiving side, whoever relayed them --------------
    Pattern {
        name: "exchange-starttls-required-reply",
        family: Some(Exchange),
        form: "451 5.7.3 STARTTLS is required to send mail",
        regex: r"(?P<code>%CODE%)[ -](?P<status>%STATUS%) (?P<phrase>STARTTLS is required to send mail)",
        extracts: &[Code, Status, Phrase],
        example: "451 5.7.3 STARTTLS is required to send mail",
    },
    Pattern {
        name: "must-issue-starttls-reply",
        family: None,
        form: "530 5.7.0 Must issue a STARTTLS command first",
        regex: r"(?P<code>530)[ -](?P<status>5\.7\.0) (?P<phrase>Must issue a STARTTLS command first)",
        extracts: &[Code, Status, Phrase],
        example: "530 5.7.0 Must issue a STARTTLS command first",
    },
    Pattern {
        name: "tls-not-available-reply",
        family: None,
        form: "454 4.7.0 TLS not available due to temporary reason",
        regex: r"(?P<code>454)[ -](?:(?P<status>%STATUS%) )?(?P<phrase>TLS not available due to temporary reason)",
        extracts: &[Code, Status, Phrase],
        example: "454 4.7.0 TLS not available due to temporary reason",
    },
    // ---- RFC 3464 delivery status notifications ------------------------------------------
    Pattern {
        name: "dsn-final-recipient",
        family: None,
        form: "Final-Recipient: rfc822; rcpt",
        regex: r"(?i)^Final-Recipient:[ \t]*rfc822;[ \t]*<?(?P<rcpt>%RCPT%)>?",
        extracts: &[Rcpt],
        example: "Final-Recipient: rfc822; user@example.com",
    },
    Pattern {
        name: "dsn-original-recipient",
        family: None,
        form: "Original-Recipient: rfc822; rcpt",
        regex: r"(?i)^Original-Recipient:[ \t]*rfc822;[ \t]*<?(?P<rcpt>%RCPT%)>?",
        extracts: &[Rcpt],
        example: "Original-Recipient: rfc822;user@example.com",
    },
    Pattern {
        name: "dsn-remote-mta",
        family: None,
        form: "Remote-MTA: dns; mx",
        regex: r"(?i)^Remote-MTA:[ \t]*dns;[ \t]*\[?(?P<host>%HOST%)\]?(?:[ \t]*\[(?:IPv6:)?(?P<ip>%IP%)\])?",
        extracts: &[Host, Ip],
        example: "Remote-MTA: dns; mx.example.com [192.0.2.1]",
    },
    Pattern {
        name: "dsn-diagnostic-code",
        family: None,
        form: "Diagnostic-Code: smtp; …",
        regex: r"(?i)^Diagnostic-Code:[ \t]*[A-Za-z0-9-]+;[ \t]*(?:(?P<code>%CODE%)[ -](?:(?P<status>%STATUS%)[ \t]+)?)?(?P<phrase>[^\n]*)",
        extracts: &[Code, Status, Phrase],
        example: "Diagnostic-Code: smtp; 454 4.7.0 TLS not available due to temporary reason",
    },
    Pattern {
        name: "dsn-status",
        family: None,
        form: "Status: 4.7.5",
        regex: r"(?i)^Status:[ \t]*(?P<status>%STATUS%)",
        extracts: &[Status],
        example: "Status: 4.7.5",
    },
    // ---- Generic fallbacks ------------------------------------------------------------------
    Pattern {
        name: "bounce-recipient-line",
        family: None,
        form: "<rcpt>: (bounce body)",
        regex: r"^<(?P<rcpt>%RCPT%)>:(?:[ \t]|$)",
        extracts: &[Rcpt],
        example: "<user@example.com>:",
    },
    Pattern {
        name: "smtp-rcpt-to",
        family: None,
        form: "RCPT TO:<rcpt>",
        regex: r"(?i)RCPT TO:[ \t]*<(?P<rcpt>%RCPT%)>",
        extracts: &[Rcpt],
        example: " -> RCPT TO:<user@example.com>",
    },
    Pattern {
        name: "log-to-field",
        family: None,
        form: "to=<rcpt>",
        regex: r"\bto=<(?P<rcpt>%RCPT%)>",
        extracts: &[Rcpt],
        example: "4QxYz1AbCd: to=<user@example.com>, orig_to=<alias@example.net>",
    },
    Pattern {
        name: "openssl-error-string",
        family: None,
        form: "error:XXXXXXXX:SSL routines:…",
        regex: r"(?P<phrase>error:[0-9A-Fa-f]{8}:SSL routines:[^\s)]*)",
        extracts: &[Phrase],
        example: "40C7B2F8E27F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:354:",
    },
    Pattern {
        name: "qmail-status-hash",
        family: None,
        form: "(#4.4.2)",
        regex: r"\(#(?P<status>%STATUS%)\)",
        extracts: &[Status],
        example: "Sorry. Although I'm listed as a best-preference MX or A for that host, it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)",
    },
    // Only 4xx/5xx: a swaks or openssl transcript is full of 220/250 replies.
    Pattern {
        name: "smtp-failure-reply-code",
        family: None,
        form: "454 4.7.0",
        regex: r"\b(?P<code>[45][0-9][0-9])[ -](?P<status>[45]\.[0-9]{1,3}\.[0-9]{1,3})\b",
        extracts: &[Code, Status],
        example: "<<< 403 4.7.0 TLS handshake failed.",
    },
    // ---- Family signatures: only name the MTA when nothing more specific did -----------
    Pattern {
        name: "postfix-signature",
        family: Some(Postfix),
        form: "postfix/smtp[pid]",
        regex: r"\bpostfix(?:/[A-Za-z0-9_-]+){0,3}/smtp\[[0-9]+\]|This is the mail system at host |^X-Postfix-Queue-ID:",
        extracts: &[],
        example: "This is the mail system at host mail.sender.example.",
    },
    Pattern {
        name: "qmail-signature",
        family: Some(Qmail),
        form: "This is the qmail-send program",
        regex: r"This is the qmail-send program at |I'm afraid I wasn't able to deliver your message|\bdelivery [0-9]+: (?:deferral|failure):",
        extracts: &[],
        example: "Hi. This is the qmail-send program at mail.sender.example.",
    },
    Pattern {
        name: "exim-signature",
        family: Some(Exim),
        form: "This message was created automatically by mail delivery software",
        regex: r"This message was created automatically by mail delivery software\.|Mail delivery failed: returning message to sender",
        extracts: &[],
        example: "This message was created automatically by mail delivery software.",
    },
    Pattern {
        name: "sendmail-signature",
        family: Some(Sendmail),
        form: "sendmail[pid]",
        regex: r"\b(?:sendmail|sm-mta)\[[0-9]+\]:|----- Transcript of session follows -----|The original message was received at ",
        extracts: &[],
        example: "   ----- Transcript of session follows -----",
    },
    Pattern {
        name: "exchange-signature",
        family: Some(Exchange),
        form: "Diagnostic information for administrators",
        regex: r"Diagnostic information for administrators:|Delivery has failed to these recipients or groups:|^X-MS-Exchange-",
        extracts: &[],
        example: "Diagnostic information for administrators:",
    },
    Pattern {
        name: "other-signature",
        family: Some(Other),
        form: "Gmail, swaks or openssl output",
        regex: r"mailer-daemon@googlemail\.com|support\.google\.com/mail|=== Connected to |^CONNECTED\([0-9A-Fa-f]{8}\)",
        extracts: &[],
        example: "CONNECTED(00000003)",
    },
];
