//! Fuzz target: any bytes, fed in two pieces at a fuzzer-chosen split, must parse without a
//! panic, and must give the same commands (or the same error) as when fed whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_resp::parse::{ParseLimits, Parsed, Parser};

fn run(pieces: &[&[u8]]) -> (Vec<Vec<Vec<u8>>>, Option<Vec<u8>>) {
    let mut parser = Parser::new();
    let mut buffer = Vec::new();
    let mut commands = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        let mut pos = 0;
        loop {
            match parser.parse(&buffer[pos..], ParseLimits::default()) {
                Ok(Parsed::Command { consumed }) => {
                    assert!(consumed > 0 && pos + consumed <= buffer.len());
                    let request = parser.request(&buffer[pos..]);
                    commands.push(request.iter().map(<[u8]>::to_vec).collect());
                    pos += consumed;
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(error) => return (commands, Some(error.0)),
            }
        }
        buffer.drain(..pos);
    }
    (commands, None)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % data.len();
    let input = &data[1..];
    let split = split.min(input.len());
    let whole = run(&[input]);
    let pieces = run(&[&input[..split], &input[split..]]);
    assert_eq!(whole, pieces);
});
