//! Hand-made ClientHellos and a reader for the server's first answer, so what a
//! server accepts is measured without rustls (which speaks only TLS 1.2/1.3 with
//! modern suites). A small codec of our own: the crates that parse TLS records
//! pull in a second syn, rand and hashbrown for the few fields needed here.

/// TLS protocol versions as they appear on the wire.
pub const SSL3: u16 = 0x0300;
pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;

/// Named groups (RFC 8446 §4.2.7, RFC 8422).
pub const X25519: u16 = 0x001d;
pub const SECP256R1: u16 = 0x0017;
pub const SECP384R1: u16 = 0x0018;
pub const SECP521R1: u16 = 0x0019;
pub const FFDHE2048: u16 = 0x0100;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What to offer in one ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub version: u16,
    pub suites: Vec<u16>,
    pub groups: Vec<u16>,
    pub sni: Option<String>,
}

/// The server's first answer to a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version and suite chosen, and the key-exchange group when shown.
    Hello {
        version: u16,
        suite: u16,
        group: Option<u16>,
    },
    /// A HelloRetryRequest: TLS 1.3 with another group, named here.
    RetryRequest {
        suite: u16,
        group: Option<u16>,
    },
    Alert {
        level: u8,
        description: u8,
    },
    /// Printable text where a TLS record belonged.
    Plaintext(Vec<u8>),
    /// Bytes that are neither TLS nor text.
    Garbage(Vec<u8>),
    /// A ServerHello came, then the handshake broke (bad records, oversized messages,
    /// certificates no client can read): the version or suite is not really accepted.
    Broken(String),
}

fn push16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn push_len16(out: &mut Vec<u8>, body: &[u8]) {
    push16(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    push16(out, kind);
    push_len16(out, body);
}

/// Signature schemes offered to TLS 1.2+ servers (RFC 8446 §4.2.3), SHA-1 last.
const SIGNATURE_SCHEMES: [u16; 11] = [
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0203,
];

/// What a client offered in its ClientHello: read from a real sender's hello, so that
/// "would this sender connect" compares the server with what that sender really sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Every version offered: `supported_versions` when present, else the legacy field
    /// and every older version down to TLS 1.0.
    pub versions: Vec<u16>,
    /// Cipher suites in the client's order, without signalling values (SCSVs, GREASE).
    pub suites: Vec<u16>,
    /// `supported_groups`, without GREASE.
    pub groups: Vec<u16>,
    /// The whole ClientHello handshake message, in bytes.
    pub size: usize,
}

/// GREASE values (RFC 8701) look like 0x?a?a.
fn grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// Reads a ClientHello from the start of `bytes` (TLS records, the hello may span
/// several); `None` when the bytes are not one, or not all of it has arrived.
pub fn parse_client_hello(bytes: &[u8]) -> Option<Hello> {
    // Gather the handshake bytes out of the records.
    let mut handshake = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 5 && rest[0] == 0x16 {
        let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        let record = rest.get(5..5 + length)?;
        handshake.extend_from_slice(record);
        rest = &rest[5 + length..];
        if handshake.len() >= 4 {
            let size =
                4 + (usize::from(handshake[1]) << 16 | usize::from(handshake[2]) << 8 | usize::from(handshake[3]));
            if handshake.len() >= size {
                break;
            }
        }
    }
    if handshake.first() != Some(&1) || handshake.len() < 4 {
        return None;
    }
    let size = 4 + (usize::from(handshake[1]) << 16 | usize::from(handshake[2]) << 8 | usize::from(handshake[3]));
    let body = handshake.get(4..size)?;
    let u16_at = |b: &[u8], at: usize| b.get(at..at + 2).map(|v| u16::from_be_bytes([v[0], v[1]]));
    let legacy = u16_at(body, 0)?;
    let mut at = 2 + 32;
    at += 1 + usize::from(*body.get(at)?);
    let suites_len = usize::from(u16_at(body, at)?);
    let suites: Vec<u16> = body
        .get(at + 2..at + 2 + suites_len)?
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .filter(|s| !grease(*s) && *s != 0x00ff && *s != 0x5600)
        .collect();
    at += 2 + suites_len;
    at += 1 + usize::from(*body.get(at)?);
    let mut versions = Vec::new();
    let mut groups = Vec::new();
    if let Some(total) = u16_at(body, at) {
        let mut exts = body.get(at + 2..at + 2 + usize::from(total))?;
        while exts.len() >= 4 {
            let kind = u16::from_be_bytes([exts[0], exts[1]]);
            let length = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
            let data = exts.get(4..4 + length)?;
            let list = |skip: usize| -> Vec<u16> {
                data.get(skip..)
                    .unwrap_or_default()
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .filter(|v| !grease(*v))
                    .collect()
            };
            match kind {
                0x000a => groups = list(2),
                0x002b => versions = list(1),
                _ => {}
            }
            exts = &exts[4 + length..];
        }
    }
    if versions.is_empty() {
        versions = (0x0301..=legacy.max(0x0301)).rev().collect();
    }
    versions.sort_unstable();
    Some(Hello {
        versions,
        suites,
        groups,
        size,
    })
}

/// X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem): what OpenSSL 3.5+ sends first.
pub const X25519MLKEM768: u16 = 0x11ec;

/// What a real sender's ClientHello carries beyond the [`Offer`]: the fields that make it
/// big or picky, so that "would this sender connect" is measured on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// `supported_versions` to send, newest first; empty: only TLS 1.3 for a TLS 1.3 offer.
    pub versions: Vec<u16>,
    /// Groups to send a key share for; empty: x25519 when offered (the probe's default).
    pub shares: Vec<u16>,
    /// Content-free extensions real stacks send (extended master secret, encrypt-then-MAC,
    /// session ticket), which some servers and boxes react to.
    pub empty: Vec<u16>,
    /// Pads the handshake message to at least this many bytes (RFC 7685).
    pub pad_to: Option<usize>,
}

/// The key share bytes for `group`: the right length, and content the server accepts.
/// An ML-KEM-768 encapsulation key of zero coefficients passes the FIPS 203 modulus check.
fn key_share(group: u16, random: &[u8; 32]) -> Vec<u8> {
    match group {
        X25519MLKEM768 => {
            let mut share = vec![0u8; 1152];
            share.extend_from_slice(random);
            share.extend_from_slice(random);
            share
        }
        _ => random.to_vec(),
    }
}

/// Builds a ClientHello record for `offer`; `random` fills the random and the
/// session id and key share (their content does not matter to a probe).
pub fn client_hello(offer: &Offer, random: &[u8; 32]) -> Vec<u8> {
    client_hello_with(offer, &Extras::default(), random)
}

/// [`client_hello`] with a real sender's extras (more versions, key shares, padding).
pub fn client_hello_with(offer: &Offer, extras: &Extras, random: &[u8; 32]) -> Vec<u8> {
    let tls13 = offer.version >= TLS13;
    let mut body = Vec::new();
    push16(&mut body, offer.version.min(TLS12));
    body.extend_from_slice(random);
    if tls13 {
        // RFC 8446 Appendix D.4: a non-empty session id for middlebox compatibility.
        body.push(32);
        body.extend_from_slice(random);
    } else {
        body.push(0);
    }
    let mut suites = Vec::new();
    for suite in &offer.suites {
        push16(&mut suites, *suite);
    }
    if !tls13 {
        // TLS_EMPTY_RENEGOTIATION_INFO_SCSV: some old servers want to see it.
        push16(&mut suites, 0x00ff);
    }
    push_len16(&mut body, &suites);
    body.extend_from_slice(&[1, 0]);
    if offer.version > SSL3 {
        let mut exts = Vec::new();
        if let Some(name) = offer.sni.as_deref().filter(|n| !n.is_empty() && n.len() < 250) {
            let mut list = vec![0u8];
            push_len16(&mut list, name.trim_end_matches('.').as_bytes());
            let mut sni = Vec::new();
            push_len16(&mut sni, &list);
            extension(&mut exts, 0x0000, &sni);
        }
        if !offer.groups.is_empty() {
            let mut groups = Vec::new();
            for group in &offer.groups {
                push16(&mut groups, *group);
            }
            let mut ext = Vec::new();
            push_len16(&mut ext, &groups);
            extension(&mut exts, 0x000a, &ext);
            extension(&mut exts, 0x000b, &[1, 0]);
        }
        if offer.version >= TLS12 {
            let mut schemes = Vec::new();
            for scheme in SIGNATURE_SCHEMES {
                push16(&mut schemes, scheme);
            }
            let mut ext = Vec::new();
            push_len16(&mut ext, &schemes);
            extension(&mut exts, 0x000d, &ext);
        }
        for kind in &extras.empty {
            extension(&mut exts, *kind, &[]);
        }
        if tls13 {
            let mut versions = Vec::new();
            for version in if extras.versions.is_empty() {
                &[TLS13][..]
            } else {
                &extras.versions
            } {
                push16(&mut versions, *version);
            }
            let mut ext = vec![versions.len() as u8];
            ext.extend_from_slice(&versions);
            extension(&mut exts, 0x002b, &ext);
            extension(&mut exts, 0x002d, &[1, 1]);
            // By default a share only for x25519 (any 32 bytes will do); other groups get
            // an empty list, and the server's HelloRetryRequest names the group it wants.
            let wanted: Vec<u16> = if extras.shares.is_empty() {
                offer.groups.iter().copied().filter(|g| *g == X25519).collect()
            } else {
                extras.shares.clone()
            };
            let mut shares = Vec::new();
            for group in wanted {
                push16(&mut shares, group);
                push_len16(&mut shares, &key_share(group, random));
            }
            let mut ext = Vec::new();
            push_len16(&mut ext, &shares);
            extension(&mut exts, 0x0033, &ext);
        }
        if let Some(target) = extras.pad_to {
            // The handshake message so far: 4 bytes of header, the body, the extensions'
            // length, the extensions, and 4 bytes of the padding extension's own header.
            let size = 4 + body.len() + 2 + exts.len() + 4;
            if size < target {
                extension(&mut exts, 0x0015, &vec![0; target - size]);
            }
        }
        push_len16(&mut body, &exts);
    }
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16];
    push16(&mut record, if offer.version == SSL3 { SSL3 } else { TLS10 });
    push_len16(&mut record, &handshake);
    record
}

/// ClientHellos shaped like named senders' stacks: their versions, suites, groups, key
/// shares and size, so a server (or a box on the path) that refuses one of them is seen
/// refusing that sender. Data, not code: each shape is one row of [`SHAPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// OpenSSL 3.0 (Debian 12, RHEL 9) as a client with its defaults.
    OpenSsl30,
    /// OpenSSL 3.5+: X25519MLKEM768 first, with its 1216-byte key share; about 1.5 KB.
    OpenSsl35Pq,
    /// GnuTLS 3.7/3.8 with its defaults (Exim on Debian).
    GnuTls,
    /// Postfix at `may` on OpenSSL 3: TLS 1.0 to 1.3 and the anonymous suites too.
    PostfixMay,
}

/// One sender's hello: versions newest first, suites and groups in its order, shares.
struct ShapeSpec {
    shape: Shape,
    name: &'static str,
    versions: &'static [u16],
    suites: &'static [u16],
    groups: &'static [u16],
    shares: &'static [u16],
}

/// OpenSSL 3's default client suites, TLS 1.3 first.
const OPENSSL3_SUITES: &[u16] = &[
    0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028,
    0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c,
    0x0035, 0x002f,
];
/// Postfix's "medium" list at `may`, which lets anonymous suites in.
const POSTFIX_MAY_SUITES: &[u16] = &[
    0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0x00a7, 0xc02b, 0xc02f, 0x009e, 0x00a6,
    0xc024, 0xc028, 0x006b, 0x006d, 0xc023, 0xc027, 0x0067, 0x006c, 0xc00a, 0xc014, 0x0039, 0xc019, 0x003a, 0xc009,
    0xc013, 0x0033, 0xc018, 0x0034, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f,
];
const GNUTLS_SUITES: &[u16] = &[
    0x1302, 0x1303, 0x1301, 0x1304, 0xc02c, 0xc02b, 0xcca9, 0xc0ad, 0xc0ac, 0xc030, 0xc02f, 0xcca8, 0x009f, 0x009e,
    0xccaa, 0xc09f, 0xc09e, 0xc00a, 0xc009, 0xc014, 0xc013, 0x0039, 0x0033, 0x009d, 0x009c, 0xc09d, 0xc09c, 0x0035,
    0x002f,
];
const OPENSSL3_GROUPS: &[u16] = &[
    X25519, SECP256R1, 0x001e, SECP521R1, SECP384R1, FFDHE2048, 0x0101, 0x0102, 0x0103, 0x0104,
];

const SHAPES: &[ShapeSpec] = &[
    ShapeSpec {
        shape: Shape::OpenSsl30,
        name: "OpenSSL 3.0",
        versions: &[TLS13, TLS12],
        suites: OPENSSL3_SUITES,
        groups: OPENSSL3_GROUPS,
        shares: &[X25519],
    },
    ShapeSpec {
        shape: Shape::OpenSsl35Pq,
        name: "OpenSSL 3.5+ (X25519MLKEM768)",
        versions: &[TLS13, TLS12],
        suites: OPENSSL3_SUITES,
        groups: &[
            X25519MLKEM768,
            X25519,
            SECP256R1,
            0x001e,
            SECP384R1,
            SECP521R1,
            FFDHE2048,
            0x0101,
        ],
        shares: &[X25519MLKEM768, X25519],
    },
    // GnuTLS also sends a secp256r1 share; a made-up point would be refused, so not here.
    ShapeSpec {
        shape: Shape::GnuTls,
        name: "GnuTLS",
        versions: &[TLS13, TLS12, TLS11, TLS10],
        suites: GNUTLS_SUITES,
        groups: &[
            X25519, SECP256R1, SECP384R1, SECP521R1, 0x001e, FFDHE2048, 0x0101, 0x0102,
        ],
        shares: &[X25519],
    },
    ShapeSpec {
        shape: Shape::PostfixMay,
        name: "Postfix at may (OpenSSL 3)",
        versions: &[TLS13, TLS12, TLS11, TLS10],
        suites: POSTFIX_MAY_SUITES,
        groups: OPENSSL3_GROUPS,
        shares: &[X25519],
    },
];

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::OpenSsl30, Shape::OpenSsl35Pq, Shape::GnuTls, Shape::PostfixMay];

    fn spec(self) -> &'static ShapeSpec {
        // Every shape has its row; the fallback only keeps this total.
        SHAPES.iter().find(|s| s.shape == self).unwrap_or(&SHAPES[0])
    }

    /// The sender's name, for findings ("refuses the hello of OpenSSL 3.5+").
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The offer and extras of this sender's hello, to `sni`.
    pub fn offer(self, sni: Option<String>) -> (Offer, Extras) {
        let spec = self.spec();
        let offer = Offer {
            version: spec.versions.first().copied().unwrap_or(TLS13),
            suites: spec.suites.to_vec(),
            groups: spec.groups.to_vec(),
            sni,
        };
        let extras = Extras {
            versions: spec.versions.to_vec(),
            shares: spec.shares.to_vec(),
            // session_ticket, encrypt_then_mac, extended_master_secret: all three send them.
            empty: vec![0x0023, 0x0016, 0x0017],
            pad_to: None,
        };
        (offer, extras)
    }

    /// The whole ClientHello record this sender would send to `sni`.
    pub fn hello(self, sni: Option<String>, random: &[u8; 32]) -> Vec<u8> {
        let (offer, extras) = self.offer(sni);
        client_hello_with(&offer, &extras, random)
    }
}

/// A bounds-checked reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Largest record body a peer may send (RFC 5246 §6.2.3: 2^14 + 2048; TLS 1.3 allows less).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Largest handshake message accepted, as rustls does: a long certificate chain fits.
pub const MAX_HANDSHAKE: usize = 0xffff;

/// Reads the server's answer to a ClientHello from the bytes received so far; `None`
/// means more bytes are needed.
///
/// A ServerHello alone proves nothing: a server (or a box on the path) can send one and
/// then break. So a version and suite count as accepted only when the handshake can
/// proceed: up to ServerHelloDone for TLS 1.2 and older (with every certificate
/// parseable), or up to the first well-formed encrypted record for TLS 1.3.
pub fn parse_answer(bytes: &[u8]) -> Option<Answer> {
    let first = *bytes.first()?;
    if first != 0x15 && first != 0x16 {
        let sample = bytes[..bytes.len().min(64)].to_vec();
        let printable = sample.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        return Some(if printable {
            Answer::Plaintext(sample)
        } else {
            Answer::Garbage(sample)
        });
    }
    let garbage = || Some(Answer::Garbage(bytes[..bytes.len().min(64)].to_vec()));
    let mut records = Reader(bytes);
    let mut handshake: Vec<u8> = Vec::new();
    let mut consumed = 0;
    let mut hello: Option<Answer> = None;
    let mut tls13 = false;
    loop {
        let kind = records.u8()?;
        let _version = records.u16()?;
        let length = usize::from(records.u16()?);
        if length > MAX_RECORD {
            return Some(Answer::Broken(format!(
                "a record of {length} bytes, over the limit of {MAX_RECORD}"
            )));
        }
        let body = records.take(length)?;
        match kind {
            0x15 => {
                let mut alert = Reader(body);
                return Some(Answer::Alert {
                    level: alert.u8()?,
                    description: alert.u8()?,
                });
            }
            0x16 if !tls13 => handshake.extend_from_slice(body),
            // TLS 1.3 middlebox compatibility: one change_cipher_spec of one byte.
            0x14 if tls13 && body == [1] => continue,
            0x17 if tls13 && !body.is_empty() => return hello,
            _ if hello.is_none() => return garbage(),
            _ => {
                return Some(Answer::Broken(format!(
                    "record type {kind} before the handshake could go on"
                )));
            }
        }
        // Whole handshake messages in the bytes so far.
        loop {
            let mut messages = Reader(&handshake[consumed..]);
            let Some(message_type) = messages.u8() else { break };
            let Some(length) = messages
                .take(3)
                .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
            else {
                break;
            };
            if length > MAX_HANDSHAKE {
                return Some(Answer::Broken(format!(
                    "a handshake message of {length} bytes, over the limit of {MAX_HANDSHAKE}"
                )));
            }
            let Some(message) = messages.take(length) else { break };
            consumed += 4 + length;
            match (message_type, &hello) {
                (0x02, None) => {
                    let answer = server_hello(message).or_else(garbage)?;
                    match answer {
                        Answer::RetryRequest { .. } => return Some(answer),
                        Answer::Hello { version: TLS13, .. } => tls13 = true,
                        _ => {}
                    }
                    hello = Some(answer);
                }
                (_, None) => return garbage(),
                (0x02, Some(_)) => return Some(Answer::Broken("a second ServerHello".into())),
                (0x0b, Some(_)) => {
                    if let Err(why) = certificates(message) {
                        return Some(Answer::Broken(why));
                    }
                }
                // ServerHelloDone: the server's whole first flight arrived intact.
                (0x0e, Some(_)) => return hello,
                _ => {}
            }
            if tls13 && consumed < handshake.len() {
                return Some(Answer::Broken(
                    "cleartext handshake data after a TLS 1.3 ServerHello".into(),
                ));
            }
        }
    }
}

/// Reads a ServerHello body: the version and suite chosen, the key-exchange group.
fn server_hello(body: &[u8]) -> Option<Answer> {
    let mut hello = Reader(body);
    let legacy_version = hello.u16()?;
    let random = hello.take(32)?;
    let session = usize::from(hello.u8()?);
    hello.take(session)?;
    let suite = hello.u16()?;
    hello.u8()?;
    let mut version = legacy_version;
    let mut group = None;
    if let Some(length) = hello.u16() {
        let mut exts = Reader(hello.take(usize::from(length))?);
        while let (Some(kind), Some(length)) = (exts.u16(), exts.u16()) {
            let mut data = Reader(exts.take(usize::from(length))?);
            match kind {
                0x002b => version = data.u16()?,
                0x0033 => group = data.u16(),
                _ => {}
            }
        }
    }
    Some(if random == HRR_RANDOM {
        Answer::RetryRequest { suite, group }
    } else {
        Answer::Hello { version, suite, group }
    })
}

/// Checks a TLS 1.2 Certificate message: every certificate must parse as X.509, as a
/// real client needs before it can go on.
fn certificates(body: &[u8]) -> Result<(), String> {
    let u24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
    let mut message = Reader(body);
    let total = message.take(3).map(u24).ok_or("a truncated Certificate message")?;
    let mut list = Reader(
        message
            .take(total)
            .ok_or("a Certificate message shorter than it says")?,
    );
    let mut position = 0;
    while !list.0.is_empty() {
        let length = list.take(3).map(u24).ok_or("a truncated certificate length")?;
        let der = list.take(length).ok_or("a certificate shorter than it says")?;
        if x509_parser::parse_x509_certificate(der).is_err() {
            return Err(format!("certificate {position} is not valid X.509"));
        }
        position += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_hello_reads_back() {
        let offer = Offer {
            version: TLS13,
            suites: vec![0x1301, 0xc02f],
            groups: vec![X25519, 0x0017],
            sni: Some("mx.example.com".into()),
        };
        let hello = parse_client_hello(&client_hello(&offer, &[7; 32])).expect("a hello");
        assert_eq!(hello.versions, vec![TLS13]);
        assert_eq!(hello.suites, vec![0x1301, 0xc02f]);
        assert_eq!(hello.groups, vec![X25519, 0x0017]);
        let old = Offer {
            version: TLS12,
            ..offer
        };
        let hello = parse_client_hello(&client_hello(&old, &[7; 32])).expect("a hello");
        assert_eq!(hello.versions, vec![0x0301, 0x0302, 0x0303]);
        assert!(parse_client_hello(b"EHLO x\r\n").is_none());
        assert!(parse_client_hello(&client_hello(&old, &[7; 32])[..40]).is_none());
    }

    #[test]
    fn shapes_read_back_as_their_senders_and_only_the_pq_one_is_large() {
        for shape in Shape::ALL {
            let bytes = shape.hello(Some("mx.example.com".into()), &[7; 32]);
            let hello = parse_client_hello(&bytes).expect("a hello");
            let (offer, extras) = shape.offer(None);
            assert_eq!(hello.suites, offer.suites, "{shape:?}");
            assert_eq!(hello.groups, offer.groups, "{shape:?}");
            assert_eq!(hello.versions.last(), extras.versions.first(), "{shape:?}");
            let large = hello.size > 1400;
            assert_eq!(large, shape == Shape::OpenSsl35Pq, "{shape:?}: {} bytes", hello.size);
        }
        let postfix = parse_client_hello(&Shape::PostfixMay.hello(None, &[7; 32])).expect("a hello");
        assert!(
            postfix.suites.contains(&0x00a7),
            "Postfix at may offers ADH-AES256-GCM-SHA384"
        );
        assert_eq!(postfix.versions, vec![TLS10, TLS11, TLS12, TLS13]);
    }

    #[test]
    fn padding_reaches_the_asked_size_and_keeps_the_offer() {
        let offer = Offer {
            version: TLS12,
            suites: vec![0xc02f, 0x002f],
            groups: vec![X25519],
            sni: Some("mx.example.com".into()),
        };
        let extras = Extras {
            pad_to: Some(1500),
            ..Extras::default()
        };
        let padded = parse_client_hello(&client_hello_with(&offer, &extras, &[7; 32])).expect("a hello");
        let plain = parse_client_hello(&client_hello(&offer, &[7; 32])).expect("a hello");
        assert_eq!(padded.size, 1500);
        assert_eq!((padded.suites, padded.groups), (plain.suites, plain.groups));
    }

    #[test]
    fn client_hello_lengths_are_consistent() {
        for version in [SSL3, TLS10, TLS12, TLS13] {
            let offer = Offer {
                version,
                suites: vec![0x002f, 0x1301],
                groups: vec![X25519, SECP256R1],
                sni: Some("mx.example.com".into()),
            };
            let hello = client_hello(&offer, &[7; 32]);
            assert_eq!(hello[0], 0x16);
            assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), hello.len() - 5);
            let handshake = usize::from(hello[6]) << 16 | usize::from(hello[7]) << 8 | usize::from(hello[8]);
            assert_eq!(handshake, hello.len() - 9);
            assert_eq!(u16::from_be_bytes([hello[9], hello[10]]), version.min(TLS12));
        }
    }

    #[test]
    fn alerts_and_plaintext_are_recognised() {
        assert_eq!(
            parse_answer(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]),
            Some(Answer::Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(
            parse_answer(&[0x15, 0x03, 0x03, 0x00]),
            None,
            "incomplete record waits for more"
        );
        assert!(matches!(
            parse_answer(b"500 5.5.2 Error: bad syntax\r\n"),
            Some(Answer::Plaintext(_))
        ));
        assert!(matches!(parse_answer(&[0x80, 0x2e, 0x01]), Some(Answer::Garbage(_))));
    }

    /// A handshake record holding one message of `kind` with `body`.
    fn handshake_record(kind: u8, body: &[u8]) -> Vec<u8> {
        let length = body.len();
        let mut message = vec![kind, (length >> 16) as u8, (length >> 8) as u8, length as u8];
        message.extend_from_slice(body);
        let mut record = vec![0x16, 0x03, 0x03];
        record.extend_from_slice(&(message.len() as u16).to_be_bytes());
        record.extend_from_slice(&message);
        record
    }

    fn server_hello_body(version: u16, suite: u16) -> Vec<u8> {
        let mut hello = vec![0x03, 0x03];
        hello.extend_from_slice(&[1; 32]);
        hello.push(0);
        hello.extend_from_slice(&suite.to_be_bytes());
        hello.push(0);
        if version == TLS13 {
            let exts = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x02, 0x00, 0x1d];
            hello.extend_from_slice(&[0x00, exts.len() as u8]);
            hello.extend_from_slice(&exts);
        }
        hello
    }

    fn certificate_body(certificates: &[&[u8]]) -> Vec<u8> {
        let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let mut list = Vec::new();
        for der in certificates {
            list.extend_from_slice(&u24(der.len()));
            list.extend_from_slice(der);
        }
        let mut body = u24(list.len()).to_vec();
        body.extend_from_slice(&list);
        body
    }

    #[test]
    fn tls13_is_accepted_once_an_encrypted_record_follows_the_server_hello() {
        let mut flight = handshake_record(0x02, &server_hello_body(TLS13, 0x1301));
        assert_eq!(parse_answer(&flight), None, "a ServerHello alone waits for more");
        flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        assert_eq!(parse_answer(&flight), None, "the compatibility CCS is not enough");
        flight.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x03, 0xaa, 0xbb, 0xcc]);
        assert_eq!(
            parse_answer(&flight),
            Some(Answer::Hello {
                version: TLS13,
                suite: 0x1301,
                group: Some(X25519)
            })
        );
    }

    #[test]
    fn a_server_hello_followed_by_random_bytes_is_not_acceptance() {
        let mut flight = handshake_record(0x02, &server_hello_body(TLS13, 0x1301));
        flight.extend_from_slice(&[0x9c, 0x41, 0x07, 0xee, 0x13, 0x00, 0x01, 0x02]);
        assert!(
            matches!(parse_answer(&flight), Some(Answer::Broken(_))),
            "{:?}",
            parse_answer(&flight)
        );
        let mut flight = handshake_record(0x02, &server_hello_body(TLS10, 0x002f));
        flight.extend_from_slice(&[0x9c, 0x41, 0x07, 0xee, 0x13, 0x00, 0x01, 0x02]);
        assert!(matches!(parse_answer(&flight), Some(Answer::Broken(_))));
    }

    #[test]
    fn an_oversized_record_after_the_server_hello_is_broken() {
        let mut flight = handshake_record(0x02, &server_hello_body(TLS12, 0xc02f));
        flight.extend_from_slice(&[0x16, 0x03, 0x03, 0xff, 0xff]);
        assert!(matches!(parse_answer(&flight), Some(Answer::Broken(why)) if why.contains("65535")));
    }

    #[test]
    fn an_oversized_handshake_message_is_broken() {
        let mut flight = handshake_record(0x02, &server_hello_body(TLS12, 0xc02f));
        // A Certificate message that claims 16 MB.
        flight.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x08, 0x0b, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(matches!(parse_answer(&flight), Some(Answer::Broken(why)) if why.contains("handshake message")));
    }

    #[test]
    fn tls12_is_accepted_at_server_hello_done_with_readable_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example.com".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut flight = handshake_record(0x02, &server_hello_body(TLS12, 0xc02f));
        flight.extend_from_slice(&handshake_record(0x0b, &certificate_body(&[cert.der().as_ref()])));
        assert_eq!(
            parse_answer(&flight),
            None,
            "the flight is not over before ServerHelloDone"
        );
        let mut done = flight.clone();
        done.extend_from_slice(&handshake_record(0x0e, &[]));
        assert_eq!(
            parse_answer(&done),
            Some(Answer::Hello {
                version: TLS12,
                suite: 0xc02f,
                group: None
            })
        );

        let mut broken = handshake_record(0x02, &server_hello_body(TLS12, 0xc02f));
        broken.extend_from_slice(&handshake_record(0x0b, &certificate_body(&[b"not a certificate"])));
        broken.extend_from_slice(&handshake_record(0x0e, &[]));
        assert!(matches!(parse_answer(&broken), Some(Answer::Broken(why)) if why.contains("X.509")));
    }

    #[test]
    fn a_hello_retry_request_is_an_answer_on_its_own() {
        let mut body = server_hello_body(TLS13, 0x1302);
        body[2..34].copy_from_slice(&HRR_RANDOM);
        assert!(matches!(
            parse_answer(&handshake_record(0x02, &body)),
            Some(Answer::RetryRequest { suite: 0x1302, .. })
        ));
    }

    #[test]
    fn truncated_or_hostile_records_never_panic() {
        let offer = Offer {
            version: TLS13,
            suites: vec![0x1301],
            groups: vec![X25519],
            sni: None,
        };
        let hello = client_hello(&offer, &[9; 32]);
        for cut in 0..hello.len() {
            let _ = parse_answer(&hello[..cut]);
        }
        let _ = parse_answer(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0xff, 0xff, 0xff]);
    }
}
