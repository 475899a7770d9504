//! Ansible Vault's envelope: `$ANSIBLE_VAULT;1.1;AES256` (or `1.2` with a
//! vault id) and the hexlified payload under it, opened with a password.
//!
//! The format, as ansible-core writes it: the payload is the hex of
//! `hex(salt) \n hex(hmac) \n hex(ciphertext)`; PBKDF2-HMAC-SHA256 with
//! 10000 iterations turns password and salt into 80 bytes — the AES-256 key,
//! the HMAC-SHA256 key, and the CTR mode's initial counter block — and the
//! HMAC is over the ciphertext, whose plaintext is PKCS#7-padded to 16 bytes.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why an envelope cannot be opened.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum EnvelopeError {
    #[error("this is not Ansible Vault ciphertext: {0}")]
    Malformed(&'static str),
    #[error("vault format `{0}` is not supported: ferry reads 1.1 and 1.2 with AES256")]
    Unsupported(String),
    /// The HMAC does not match: the password is not this envelope's.
    #[error("the password does not open it")]
    WrongPassword,
}

/// The header line every vaulted text starts with.
pub(crate) const HEADER: &str = "$ANSIBLE_VAULT;";

const ITERATIONS: u32 = 10_000;

/// A parsed envelope, not yet opened.
#[derive(Debug)]
pub(crate) struct Envelope {
    /// The vault id of a 1.2 envelope (`$ANSIBLE_VAULT;1.2;AES256;prod`).
    pub(crate) id: Option<String>,
    salt: Vec<u8>,
    hmac: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Whether `text` is vaulted (starts with the header, as Ansible checks).
pub(crate) fn is_vaulted(text: &[u8]) -> bool {
    text.trim_ascii_start().starts_with(HEADER.as_bytes())
}

impl Envelope {
    /// Reads the header and payload of `text`, without a password.
    pub(crate) fn parse(text: &str) -> Result<Envelope, EnvelopeError> {
        let mut lines = text.trim().lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header
            .strip_prefix(HEADER)
            .ok_or(EnvelopeError::Malformed("no `$ANSIBLE_VAULT;` header"))?
            .split(';')
            .collect();
        let id = match fields.as_slice() {
            ["1.1", "AES256"] => None,
            ["1.2", "AES256", id] => Some(id.trim().to_string()),
            _ => return Err(EnvelopeError::Unsupported(header.to_string())),
        };
        let payload: String = lines.flat_map(|l| l.split_whitespace()).collect();
        let payload = unhex(payload.as_bytes())?;
        let parts: Vec<&[u8]> = payload.split(|b| *b == b'\n').collect();
        let [salt, hmac, ciphertext] = parts.as_slice() else {
            return Err(EnvelopeError::Malformed(
                "the payload is not salt, HMAC and ciphertext",
            ));
        };
        Ok(Envelope {
            id,
            salt: unhex(salt)?,
            hmac: unhex(hmac)?,
            ciphertext: unhex(ciphertext)?,
        })
    }

    /// The plaintext, if `password` is this envelope's. The HMAC is checked
    /// (in constant time) before anything is decrypted.
    pub(crate) fn open(&self, password: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut keys = [0u8; 80];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &self.salt, ITERATIONS, &mut keys);
        let (cipher_key, rest) = keys.split_at(32);
        let (hmac_key, iv) = rest.split_at(32);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(hmac_key)
            .map_err(|_| EnvelopeError::Malformed("bad HMAC key length"))?;
        mac.update(&self.ciphertext);
        mac.verify_slice(&self.hmac)
            .map_err(|_| EnvelopeError::WrongPassword)?;
        let mut plain = self.ciphertext.clone();
        ctr::Ctr128BE::<Aes256>::new_from_slices(cipher_key, iv)
            .map_err(|_| EnvelopeError::Malformed("bad key length"))?
            .apply_keystream(&mut plain);
        unpad(plain)
    }
}

/// Removes PKCS#7 padding (1 to 16 bytes, each the pad's length).
fn unpad(mut plain: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
    let bad = EnvelopeError::Malformed("bad padding");
    let pad = *plain.last().ok_or(bad.clone())? as usize;
    if pad == 0 || pad > 16 || pad > plain.len() {
        return Err(bad);
    }
    if !plain[plain.len() - pad..]
        .iter()
        .all(|b| *b as usize == pad)
    {
        return Err(bad);
    }
    plain.truncate(plain.len() - pad);
    Ok(plain)
}

fn unhex(text: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let bad = EnvelopeError::Malformed("the payload is not hexadecimal");
    if !text.len().is_multiple_of(2) {
        return Err(bad);
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by ansible-core 2.19's `ansible-vault encrypt_string
    // --vault-password-file pw 's3cr3t-Val'`, pw holding `correct horse`.
    const V11: &str = "$ANSIBLE_VAULT;1.1;AES256
          38303234636238363733396138333939316137643037613039313431333636653732376231363161
          3637636431373639626534336533363437616434333561370a616236333134333262323564626565
          37636665663633343762383766646634306131633630386261363962316537313066303233333165
          6138373063643830350a306638386433653138316366393962313361666364653035336262653034
          3431";
    // `--vault-id prod@pw 'prod-only'`.
    const V12: &str = "$ANSIBLE_VAULT;1.2;AES256;prod
34376663343934333032343831333334633361333733623262616531653364393538386635363534
3264313737653463623264386364626664383962303266360a373339636538653265643130373461
61306638313239663734663633303439323263303264623762623539353030316562386133666662
3436303637333533390a396131353061633665383163343431356130616563356466623231343639
3239
";
    // `'exactly16bytes!!'`: a whole block of padding.
    const BLOCK: &str = "$ANSIBLE_VAULT;1.1;AES256
30616333343038656336666264623462356637373035363336643761626633653663333066626432
3266323539363633626136613733666331313336616666610a343933313465393536313236633764
32343439643938633538636132383231616238366634613762613261636365356262663235386330
3361623830333434310a353333653038663161313832346266393965656363393835396538306566
37663864393166313762333237316264653935333666346261306563323537343331";

    #[test]
    fn opens_what_ansible_vault_encrypted() {
        let open = |text: &str| Envelope::parse(text).unwrap().open(b"correct horse");
        assert_eq!(open(V11).unwrap(), b"s3cr3t-Val");
        assert_eq!(open(V12).unwrap(), b"prod-only");
        assert_eq!(open(BLOCK).unwrap(), b"exactly16bytes!!");
        assert_eq!(Envelope::parse(V12).unwrap().id.as_deref(), Some("prod"));
        assert_eq!(Envelope::parse(V11).unwrap().id, None);
    }

    #[test]
    fn a_wrong_password_fails_the_hmac() {
        let envelope = Envelope::parse(V11).unwrap();
        assert_eq!(
            envelope.open(b"correct horse "),
            Err(EnvelopeError::WrongPassword)
        );
        assert_eq!(envelope.open(b""), Err(EnvelopeError::WrongPassword));
    }

    #[test]
    fn a_changed_ciphertext_fails_the_hmac() {
        // The last hex digit of the payload is the ciphertext's last nibble's.
        let tampered = format!("{}0", &V11[..V11.len() - 1]);
        let envelope = Envelope::parse(&tampered).unwrap();
        assert_eq!(
            envelope.open(b"correct horse"),
            Err(EnvelopeError::WrongPassword)
        );
    }

    #[test]
    fn other_formats_and_garbage_are_refused() {
        assert!(matches!(
            Envelope::parse("$ANSIBLE_VAULT;1.0;AES\nabcd"),
            Err(EnvelopeError::Unsupported(_))
        ));
        assert!(matches!(
            Envelope::parse("$ANSIBLE_VAULT;1.1;AES256\nzz"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(
            Envelope::parse("$ANSIBLE_VAULT;1.1;AES256\n6162"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(is_vaulted(b"\n  $ANSIBLE_VAULT;1.1;AES256\n"));
        assert!(!is_vaulted(b"a: 1"));
    }
}
