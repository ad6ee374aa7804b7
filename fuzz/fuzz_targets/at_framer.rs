//! Fuzzes the AT framer (`src/at/`, compiled in directly: it is pure and needs only bytes, tokio-util,
//! memchr, hex and thiserror). Checks: never panics, the buffer stays bounded, end of stream consumes
//! everything, and without a pending prompt the frames do not depend on how the bytes were cut.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

#[path = "../../src/at/mod.rs"]
#[allow(dead_code, unused_imports)]
mod at;

use at::{AtCodec, Expect, Frame};

const MAX_LINE: usize = 256;

fn frames(input: &[u8], cut: usize, command: Option<&str>) -> Vec<Frame> {
    let mut codec = AtCodec::with_max_line(MAX_LINE);
    if let Some(c) = command {
        codec.expect(Expect::for_command(c));
    }
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(cut.max(1)) {
        buf.extend_from_slice(piece);
        while let Ok(Some(f)) = codec.decode(&mut buf) {
            out.push(f);
        }
        assert!(buf.len() <= MAX_LINE + cut.max(1) + 1, "buffer grew to {}", buf.len());
    }
    while let Ok(Some(f)) = codec.decode_eof(&mut buf) {
        out.push(f);
    }
    assert!(buf.is_empty(), "bytes left after end of stream");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else { return };
    let cut = usize::from(control & 0x3f) + 1;
    let command = match control >> 6 {
        0 => None,
        1 => Some("AT+CREG?"),
        2 => Some("AT+CMGL=4"),
        _ => Some("AT+CMGS=23"),
    };
    let split = frames(input, cut, command);
    if command != Some("AT+CMGS=23") {
        assert_eq!(split, frames(input, input.len().max(1), command));
    }
});
