//! Addresses as text, on the request path, and the headers that forward them.

use http::HeaderName;

/// `X-Forwarded-For`: the addresses a request came through, the peer's appended by a proxy.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: the scheme the client used.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the host the client asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Writes `ip` as `Display` does into `buffer` (64 bytes hold any address) and returns the
/// length: an IPv4 address digit by digit (`core::fmt` costs ~900 instructions for one, on
/// every proxied request), an IPv6 one through `Display`.
pub fn write_ip(ip: std::net::IpAddr, buffer: &mut [u8; 64]) -> usize {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut at = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buffer[at] = b'.';
                    at += 1;
                }
                if octet >= 100 {
                    buffer[at] = b'0' + octet / 100;
                    at += 1;
                }
                if octet >= 10 {
                    buffer[at] = b'0' + octet / 10 % 10;
                    at += 1;
                }
                buffer[at] = b'0' + octet % 10;
                at += 1;
            }
            at
        }
        std::net::IpAddr::V6(_) => {
            let mut cursor = std::io::Cursor::new(&mut buffer[..]);
            let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{ip}"));
            usize::try_from(cursor.position()).unwrap_or(0)
        }
    }
}

/// Appends `ip` to `line` as `Display` writes it (through [`write_ip`]).
pub fn push_ip(line: &mut String, ip: std::net::IpAddr) {
    let mut text = [0u8; 64];
    let n = write_ip(ip, &mut text);
    // Digits, dots, colons and hex letters: ASCII.
    line.push_str(std::str::from_utf8(&text[..n]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut buffer = [0u8; 64];
        for bits in [0u32, 1, 9, 10, 99, 100, 255, 0x7f00_0001, 0x0a00_0a0a, 0xc0a8_6463, u32::MAX, 0x6400_0a09] {
            let ip = std::net::IpAddr::V4(bits.into());
            let n = write_ip(ip, &mut buffer);
            assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), ip.to_string());
        }
        for text in ["::1", "2001:db8::8a2e:370:7334", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:1.2.3.4"] {
            let ip: std::net::IpAddr = text.parse().unwrap();
            let n = write_ip(ip, &mut buffer);
            assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), ip.to_string());
        }
    }

    proptest::proptest! {
        #[test]
        fn every_ipv4_address_is_written_as_display_writes_it(bits: u32) {
            let mut buffer = [0u8; 64];
            let ip = std::net::IpAddr::V4(bits.into());
            let n = write_ip(ip, &mut buffer);
            proptest::prop_assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), ip.to_string());
            let mut line = String::from("client=");
            push_ip(&mut line, ip);
            proptest::prop_assert_eq!(line, format!("client={ip}"));
        }
    }
}
