//! Property tests of the request parser: what the encoder of a client writes, the parser reads
//! back unchanged, however the bytes are cut into reads, and no input makes it panic.

use proptest::prelude::*;
use tern_resp::parse::{ParseLimits, Parsed, Parser};

/// Encodes commands the way a client does: RESP arrays of bulk strings.
fn encode(commands: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for command in commands {
        out.extend_from_slice(format!("*{}\r\n", command.len()).as_bytes());
        for arg in command {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Feeds `input` to a parser in the given chunk sizes, the way a connection does: bytes are
/// appended to a buffer, complete commands are taken from its front, and the unconsumed rest is
/// moved to the start before the next read.
fn parse_chunked(input: &[u8], chunk_sizes: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, Vec<u8>> {
    let mut parser = Parser::new();
    let mut buffer = Vec::new();
    let mut commands = Vec::new();
    let mut fed = 0;
    let mut sizes = chunk_sizes.iter().cycle();
    while fed < input.len() {
        let size = (*sizes.next().unwrap()).max(1).min(input.len() - fed);
        buffer.extend_from_slice(&input[fed..fed + size]);
        fed += size;
        let mut pos = 0;
        loop {
            match parser.parse(&buffer[pos..], ParseLimits::default()) {
                Ok(Parsed::Command { consumed }) => {
                    let request = parser.request(&buffer[pos..]);
                    if !request.is_empty() {
                        commands.push(request.iter().map(<[u8]>::to_vec).collect());
                    }
                    pos += consumed;
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(error) => return Err(error.0),
            }
        }
        buffer.drain(..pos);
    }
    Ok(commands)
}

fn commands() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let arg = prop::collection::vec(any::<u8>(), 0..40);
    prop::collection::vec(prop::collection::vec(arg, 1..6), 0..8)
}

proptest! {
    #[test]
    fn round_trip(commands in commands()) {
        let input = encode(&commands);
        prop_assert_eq!(parse_chunked(&input, &[usize::MAX]), Ok(commands));
    }

    #[test]
    fn any_split_gives_the_same_commands(
        commands in commands(),
        chunk_sizes in prop::collection::vec(1usize..17, 1..10),
    ) {
        let input = encode(&commands);
        prop_assert_eq!(parse_chunked(&input, &chunk_sizes), Ok(commands));
    }

    #[test]
    fn garbage_never_panics_and_splits_agree(
        input in prop::collection::vec(
            prop_oneof![Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'"'),
                        Just(b'1'), Just(b'-'), Just(b' '), any::<u8>()],
            0..200),
        chunk_sizes in prop::collection::vec(1usize..9, 1..5),
    ) {
        let whole = parse_chunked(&input, &[usize::MAX]);
        let split = parse_chunked(&input, &chunk_sizes);
        prop_assert_eq!(whole, split);
    }
}
