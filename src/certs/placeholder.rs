//! A self-signed stand-in for a certificate a host does not have yet.
//!
//! A web server whose site already names a certificate's files (nginx's
//! `ssl_certificate`) refuses to load its configuration until they exist —
//! and without that configuration it cannot serve the http-01 challenge
//! that would get the real certificate. So before the first order for a
//! host that lacks the certificate, ferry installs this placeholder (the
//! same two-phase install as a real one), the web server can load the site,
//! and the real certificate replaces it moments later. The probe knows a
//! placeholder by its issuer and always reissues it: it is never "valid".

use super::acme::Issued;

/// The issuer's common name that marks a placeholder.
pub const ISSUER: &str = "ferry placeholder (not yet issued)";

/// A self-signed certificate and key for `names`, valid from yesterday to
/// the day after tomorrow (whole days: all rcgen takes without `time`).
pub fn make(names: &[String]) -> Result<Issued, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ISSUER);
    let day = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(d.year().into(), d.month() as u8, d.day() as u8)
    };
    let today = jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    params.not_before = day(today.yesterday().map_err(|e| e.to_string())?);
    params.not_after = day(today
        .tomorrow()
        .and_then(|d| d.tomorrow())
        .map_err(|e| e.to_string())?);
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(Issued {
        chain_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_is_known_as_one_and_covers_the_names() {
        let names = vec!["a.test".to_string(), "www.a.test".to_string()];
        let p = make(&names).unwrap();
        let leaf = super::super::probe::leaf(&p.chain_pem).unwrap();
        assert!(leaf.placeholder);
        assert_eq!(leaf.names.into_iter().collect::<Vec<_>>(), names);
        assert!(p.key_pem.contains("PRIVATE KEY"));
    }
}
