//! A compact, exact encoding of the strings and bytes one cache entry keeps, in one allocation.
//!
//! A cached Secret digest is a few dozen short strings (label keys and values, names, hex
//! hashes). As separate `String`s in `BTreeMap`s each costs a heap block and each map a node of
//! about half a kilobyte; here each costs its length plus one byte. Strings the operator writes on
//! every Secret (its label and annotation keys, `kubernetes.io/tls`, data keys) are one byte, and
//! hex is kept as its bytes. Decoding gives back exactly the strings that were written.

/// Strings stored as one byte: what every owned Secret repeats.
const KNOWN: [&str; 19] = [
    crate::labels::MANAGED_BY,
    crate::labels::MANAGED_BY_VALUE,
    crate::labels::CERTIFICATE_NAME,
    crate::labels::NEXT_PRIVATE_KEY,
    crate::labels::ISSUER_NAME,
    crate::labels::ISSUER_KIND,
    crate::labels::REQUEST_HASH,
    crate::labels::ALLOW_CERTIFICATE,
    "true",
    "Issuer",
    "ClusterIssuer",
    "kubernetes.io/tls",
    "tls.crt",
    "tls.key",
    "ca.crt",
    super::secret::OPTIONAL_KEYS[0],
    super::secret::OPTIONAL_KEYS[1],
    super::secret::OPTIONAL_KEYS[2],
    "",
];

/// How a string is stored: the low two bits of its leading number.
const LITERAL: u64 = 0;
const KNOWN_STRING: u64 = 1;
const LOWER_HEX: u64 = 2;
const UPPER_HEX: u64 = 3;

/// Builds the encoding; `finish` gives the one allocation that is kept.
#[derive(Default)]
pub struct Packer(Vec<u8>);

impl Packer {
    pub fn finish(self) -> Box<[u8]> {
        self.0.into_boxed_slice()
    }

    pub fn number(&mut self, mut n: u64) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.number(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    pub fn str(&mut self, s: &str) {
        if let Some(i) = KNOWN.iter().position(|k| *k == s) {
            self.number(((i as u64) << 2) | KNOWN_STRING);
        } else if let Some((kind, bytes)) = hex_bytes(s) {
            self.number(((bytes.len() as u64) << 2) | kind);
            self.0.extend_from_slice(&bytes);
        } else {
            self.number(((s.len() as u64) << 2) | LITERAL);
            self.0.extend_from_slice(s.as_bytes());
        }
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        self.number(u64::from(s.is_some()));
        if let Some(s) = s {
            self.str(s);
        }
    }

    pub fn strs<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a str>) {
        self.number(items.len() as u64);
        items.for_each(|s| self.str(s));
    }

    pub fn pairs<'a>(&mut self, items: impl Iterator<Item = (&'a str, &'a str)> + Clone) {
        self.number(items.clone().count() as u64);
        for (k, v) in items {
            self.str(k);
            self.str(v);
        }
    }
}

/// Non-empty, even-length hex in one case only, which `hex` gives back exactly.
fn hex_bytes(s: &str) -> Option<(u64, Vec<u8>)> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    let kind = if s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        LOWER_HEX
    } else if s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        UPPER_HEX
    } else {
        return None;
    };
    hex::decode(s).ok().map(|bytes| (kind, bytes))
}

/// Reads back what `Packer` wrote, in the same order.
pub struct Unpacker<'a>(&'a [u8]);

impl<'a> Unpacker<'a> {
    pub fn new(packed: &'a [u8]) -> Self {
        Self(packed)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    pub fn number(&mut self) -> u64 {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)[0];
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        n
    }

    fn len(&mut self) -> usize {
        usize::try_from(self.number()).expect("a length this process wrote")
    }

    pub fn bytes(&mut self) -> Vec<u8> {
        let n = self.len();
        self.take(n).to_vec()
    }

    pub fn string(&mut self) -> String {
        let code = self.number();
        let n = usize::try_from(code >> 2).expect("a length this process wrote");
        match code & 3 {
            KNOWN_STRING => KNOWN[n].to_string(),
            LOWER_HEX => hex::encode(self.take(n)),
            UPPER_HEX => hex::encode_upper(self.take(n)),
            _ => String::from_utf8(self.take(n).to_vec()).expect("packed from a str"),
        }
    }

    pub fn opt_string(&mut self) -> Option<String> {
        (self.number() == 1).then(|| self.string())
    }

    pub fn strings(&mut self) -> Vec<String> {
        (0..self.number()).map(|_| self.string()).collect()
    }

    pub fn pairs<C: FromIterator<(String, String)>>(&mut self) -> C {
        (0..self.number())
            .map(|_| (self.string(), self.string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_comes_back_exactly() {
        let samples = [
            "",
            "a",
            "tlm-operator",
            "tlm.certops.dev/certificate-name",
            "00",
            "0a1B",
            "abcdef0123",
            "ABCDEF0123",
            "abc",
            "deadbeef",
            "DEADBEEF",
            "12345678",
            "web-tls",
            "ünïcode ✓",
            "\0\u{1}\u{7f}",
        ];
        let long = "x".repeat(70_000);
        let mut p = Packer::default();
        for s in samples {
            p.str(s);
        }
        p.str(&long);
        p.opt_str(None);
        p.opt_str(Some("Issuer"));
        p.bytes(&[0, 1, 2, 255]);
        p.strs(["a", "b"].into_iter());
        p.pairs([("k", "v"), ("true", "")].into_iter());
        p.number(u64::MAX);
        let packed = p.finish();
        let mut u = Unpacker::new(&packed);
        for s in samples {
            assert_eq!(u.string(), s);
        }
        assert_eq!(u.string(), long);
        assert_eq!(u.opt_string(), None);
        assert_eq!(u.opt_string().as_deref(), Some("Issuer"));
        assert_eq!(u.bytes(), vec![0, 1, 2, 255]);
        assert_eq!(u.strings(), vec!["a", "b"]);
        let pairs: Vec<(String, String)> = u.pairs();
        assert_eq!(pairs, vec![("k".into(), "v".into()), ("true".into(), "".into())]);
        assert_eq!(u.number(), u64::MAX);
        assert!(u.0.is_empty());
    }

    #[test]
    fn known_strings_and_hex_are_short() {
        let mut p = Packer::default();
        p.str(crate::labels::CERTIFICATE_NAME);
        p.str(&"ab".repeat(32));
        // One byte for the key; two for the length of 32 bytes of hash, then the bytes.
        assert_eq!(p.finish().len(), 1 + 2 + 32);
    }
}
