//! SSH-2 up to NEWKEYS: version banners, KEXINIT name-lists, a curve25519
//! exchange with an ed25519 host key, then opaque encrypted packets. The
//! plaintext part is well-formed, so a dissector follows it to the point
//! where encryption starts.

use crate::rng::Rng;

const CLIENT_BANNERS: [&str; 3] = [
    "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n",
    "SSH-2.0-OpenSSH_9.9\r\n",
    "SSH-2.0-PuTTY_Release_0.81\r\n",
];
const SERVER_BANNERS: [&str; 3] = [
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n",
    "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
    "SSH-2.0-OpenSSH_7.4\r\n",
];

const KEX_C: &str = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com";
const KEX_S: &str = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com";
const HOSTKEY_C: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256";
const HOSTKEY_S: &str = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519";
const CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const MACS: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const COMP: &str = "none,zlib@openssh.com";

/// The plaintext steps of the key exchange, in the order they are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    ServerBanner,
    ClientBanner,
    ClientKexInit,
    ServerKexInit,
    ClientEcdhInit,
    /// ECDH reply and the server's NEWKEYS in one segment.
    ServerEcdhReply,
    /// The client's NEWKEYS; the rest of its segment is encrypted.
    ClientNewKeys,
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn random(rng: &mut Rng, out: &mut Vec<u8>, n: usize) {
    for _ in 0..n.div_ceil(8) {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(out.len() - (8 - n % 8) % 8);
}

/// One unencrypted binary packet around the payload `body` writes; padded
/// to a multiple of 8 with at least 4 bytes of padding (RFC 4253 6).
fn packet(rng: &mut Rng, out: &mut Vec<u8>, body: impl FnOnce(&mut Rng, &mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 5]);
    body(rng, out);
    let payload = out.len() - at - 5;
    let mut pad = 8 - (payload + 5) % 8;
    if pad < 4 {
        pad += 8;
    }
    random(rng, out, pad);
    let packet_len = (1 + payload + pad) as u32;
    out[at..at + 4].copy_from_slice(&packet_len.to_be_bytes());
    out[at + 4] = pad as u8;
}

/// Writes step `step` of a session with banners `flavour`; `seed` fixes
/// cookies and keys.
pub(crate) fn write_step(step: Step, seed: u64, flavour: u8, out: &mut Vec<u8>) {
    let mut rng = Rng::new(seed);
    let f = flavour as usize % 3;
    match step {
        Step::ServerBanner => out.extend_from_slice(SERVER_BANNERS[f].as_bytes()),
        Step::ClientBanner => out.extend_from_slice(CLIENT_BANNERS[f].as_bytes()),
        Step::ClientKexInit | Step::ServerKexInit => {
            let client = step == Step::ClientKexInit;
            packet(&mut rng, out, |rng, out| {
                out.push(20);
                random(rng, out, 16);
                string(out, if client { KEX_C } else { KEX_S }.as_bytes());
                string(out, if client { HOSTKEY_C } else { HOSTKEY_S }.as_bytes());
                for list in [CIPHERS, CIPHERS, MACS, MACS, COMP, COMP, "", ""] {
                    string(out, list.as_bytes());
                }
                out.extend_from_slice(&[0, 0, 0, 0, 0]);
            });
        }
        Step::ClientEcdhInit => packet(&mut rng, out, |rng, out| {
            out.push(30);
            out.extend_from_slice(&32u32.to_be_bytes());
            random(rng, out, 32);
        }),
        Step::ServerEcdhReply => {
            packet(&mut rng, out, |rng, out| {
                out.push(31);
                out.extend_from_slice(&51u32.to_be_bytes());
                string(out, b"ssh-ed25519");
                out.extend_from_slice(&32u32.to_be_bytes());
                random(rng, out, 32);
                out.extend_from_slice(&32u32.to_be_bytes());
                random(rng, out, 32);
                out.extend_from_slice(&83u32.to_be_bytes());
                string(out, b"ssh-ed25519");
                out.extend_from_slice(&64u32.to_be_bytes());
                random(rng, out, 64);
            });
            packet(&mut rng, out, |_, out| out.push(21));
        }
        Step::ClientNewKeys => packet(&mut rng, out, |_, out| out.push(21)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_block_aligned() {
        for step in [
            Step::ClientKexInit,
            Step::ClientEcdhInit,
            Step::ClientNewKeys,
        ] {
            let mut out = Vec::new();
            write_step(step, 9, 0, &mut out);
            assert_eq!(out.len() % 8, 0, "{step:?}");
            let len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
            assert_eq!(len + 4, out.len());
        }
    }
}
