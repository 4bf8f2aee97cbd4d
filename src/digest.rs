//! SHA-256 digests as hex, for checksum annotations and cache names: lengths are
//! hashed with the parts, so that no two different lists of parts collide.

use sha2::{Digest, Sha256};

/// A digest of bytes as lowercase hex, for checksum annotations.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}
