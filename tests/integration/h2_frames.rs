//! A raw HTTP/2 client over one blocking TCP connection, for tests that must send what
//! no HTTP/2 library sends (a malformed HEADERS frame) and see every frame the server
//! answers with (RFC 9113 §4): the 9-byte frame header, the server's SETTINGS
//! acknowledged and its PINGs answered, header blocks written as HPACK literals without
//! indexing or Huffman coding (RFC 7541 §6.2.2), and read back in full — static and
//! dynamic tables, integers, and Huffman codes of up to 12 bits (every printable ASCII
//! character but $ < @ [ \ ] ^ ` { } ~, which the headers read here do not carry; one of
//! those panics, it is never misread).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// RST_STREAM's code for a malformed request (RFC 9113 §8.1.1).
pub const PROTOCOL_ERROR: u32 = 0x1;
/// RST_STREAM's code for a stream the client no longer wants (RFC 9113 §7).
pub const CANCEL: u32 = 0x8;

/// What the server sent on a stream, or to the whole connection.
#[derive(Debug, PartialEq)]
pub enum Event {
    Headers {
        stream: u32,
        fields: Vec<(String, String)>,
        end_stream: bool,
    },
    Data {
        stream: u32,
        bytes: Vec<u8>,
        end_stream: bool,
    },
    Reset {
        stream: u32,
        code: u32,
    },
    GoAway {
        code: u32,
    },
}

pub struct Connection {
    tcp: TcpStream,
    decoder: Decoder,
}

impl Connection {
    /// Connects, sends the preface and empty SETTINGS (every setting at its default).
    pub fn open(address: &str) -> Connection {
        let tcp = TcpStream::connect(address).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut connection = Connection {
            tcp,
            decoder: Decoder::default(),
        };
        connection
            .tcp
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .unwrap();
        connection.send(SETTINGS, 0, 0, &[]);
        connection
    }

    pub fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags]);
        frame.extend(stream.to_be_bytes());
        frame.extend(payload);
        self.tcp.write_all(&frame).unwrap();
    }

    /// A SETTINGS frame of (identifier, value) pairs (RFC 9113 §6.5.2).
    pub fn settings(&mut self, settings: &[(u16, u32)]) {
        let mut payload = Vec::new();
        for (identifier, value) in settings {
            payload.extend(identifier.to_be_bytes());
            payload.extend(value.to_be_bytes());
        }
        self.send(SETTINGS, 0, 0, &payload);
    }

    /// Opens `stream`'s flow-control window (0: the connection's) by `increment`.
    pub fn window_update(&mut self, stream: u32, increment: u32) {
        self.send(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes());
    }

    /// One HEADERS frame holding the whole block, each field a literal.
    pub fn headers(&mut self, stream: u32, fields: &[(&str, &str)], end_stream: bool) {
        let mut block = Vec::new();
        for (name, value) in fields {
            literal(&mut block, name, value);
        }
        self.header_block(stream, &block, end_stream);
    }

    /// One HEADERS frame holding `block`, an HPACK header block as given.
    pub fn header_block(&mut self, stream: u32, block: &[u8], end_stream: bool) {
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        self.send(HEADERS, flags, stream, block);
    }

    pub fn data(&mut self, stream: u32, bytes: &[u8], end_stream: bool) {
        self.send(DATA, if end_stream { END_STREAM } else { 0 }, stream, bytes);
    }

    pub fn reset(&mut self, stream: u32, code: u32) {
        self.send(RST_STREAM, 0, stream, &code.to_be_bytes());
    }

    fn read_frame(&mut self) -> (u8, u8, u32, Vec<u8>) {
        let mut head = [0u8; 9];
        self.tcp
            .read_exact(&mut head)
            .unwrap_or_else(|error| panic!("no next frame from the server: {error}"));
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let stream = u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff;
        let mut payload = vec![0; length];
        self.tcp.read_exact(&mut payload).unwrap();
        (head[3], head[4], stream, payload)
    }

    /// The next frame that concerns a stream or ends the connection; SETTINGS and PING
    /// are answered on the way, WINDOW_UPDATE and PRIORITY skipped (every message here
    /// is far smaller than the default windows).
    pub fn next(&mut self) -> Event {
        loop {
            let (kind, flags, stream, payload) = self.read_frame();
            match kind {
                DATA => {
                    return Event::Data {
                        stream,
                        bytes: unpad(flags, &payload).to_vec(),
                        end_stream: flags & END_STREAM != 0,
                    }
                }
                HEADERS => {
                    let mut block = unpad(flags, &payload);
                    if flags & PRIORITY != 0 {
                        block = &block[5..];
                    }
                    let mut block = block.to_vec();
                    let mut ended = flags & END_HEADERS != 0;
                    while !ended {
                        let (kind, more, _, payload) = self.read_frame();
                        assert_eq!(kind, CONTINUATION, "a header block cut by frame {kind}");
                        block.extend(payload);
                        ended = more & END_HEADERS != 0;
                    }
                    return Event::Headers {
                        stream,
                        fields: self.decoder.decode(&block),
                        end_stream: flags & END_STREAM != 0,
                    };
                }
                RST_STREAM => {
                    return Event::Reset {
                        stream,
                        code: u32::from_be_bytes(payload[..4].try_into().unwrap()),
                    }
                }
                GOAWAY => {
                    return Event::GoAway {
                        code: u32::from_be_bytes(payload[4..8].try_into().unwrap()),
                    }
                }
                SETTINGS if flags & ACK == 0 => self.send(SETTINGS, ACK, 0, &[]),
                PING if flags & ACK == 0 => self.send(PING, ACK, 0, &payload),
                _ => {}
            }
        }
    }
}

/// A DATA or HEADERS payload without its padding.
fn unpad(flags: u8, payload: &[u8]) -> &[u8] {
    if flags & PADDED == 0 {
        return payload;
    }
    let pad = payload[0] as usize;
    &payload[1..payload.len() - pad]
}

/// A field as a literal without indexing, new name (RFC 7541 §6.2.2).
pub fn literal(block: &mut Vec<u8>, name: &str, value: &str) {
    block.push(0);
    for text in [name, value] {
        encode_integer(block, text.len(), 7, 0);
        block.extend(text.as_bytes());
    }
}

/// An HPACK integer with an `prefix`-bit prefix after the bits of `first` (RFC 7541 §5.1).
pub fn encode_integer(out: &mut Vec<u8>, value: usize, prefix: u32, first: u8) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// RFC 7541 Appendix A.
const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The Huffman code's lengths in bits for ' ' (32) to '~' (126), RFC 7541 Appendix B; 0
/// for the characters whose codes are longer than 12 bits. The code is canonical (codes
/// of a length follow one another in symbol order, after every shorter code), and every
/// symbol of up to 12 bits is one of these, so these lengths give the exact codes.
const HUFFMAN_LENGTHS: [u8; 95] = [
    6, 10, 10, 12, 0, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 0,
    6, 12, 10, 0, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 0,
    0, 0, 0, 6, 0, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 0,
    11, 0, 0,
];

/// HPACK's decoding state: the dynamic table, newest entry first.
struct Decoder {
    table: VecDeque<(String, String)>,
    max_size: usize,
    huffman: HashMap<(u8, u32), u8>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        let mut symbols: Vec<(u8, u8)> = (32u8..=126)
            .zip(HUFFMAN_LENGTHS)
            .filter(|(_, length)| *length > 0)
            .map(|(symbol, length)| (length, symbol))
            .collect();
        symbols.sort();
        let mut huffman = HashMap::new();
        let (mut code, mut previous) = (0u32, symbols[0].0);
        for (index, (length, symbol)) in symbols.into_iter().enumerate() {
            if index > 0 {
                code = (code + 1) << (length - previous);
            }
            previous = length;
            huffman.insert((length, code), symbol);
        }
        Decoder {
            table: VecDeque::new(),
            max_size: 4096, // SETTINGS_HEADER_TABLE_SIZE's default
            huffman,
        }
    }
}

impl Decoder {
    fn decode(&mut self, block: &[u8]) -> Vec<(String, String)> {
        let mut input = block;
        let mut fields = Vec::new();
        while let Some(&first) = input.first() {
            if first & 0x80 != 0 {
                let index = decode_integer(&mut input, 7);
                fields.push(self.entry(index));
            } else if first & 0xe0 == 0x20 {
                self.max_size = decode_integer(&mut input, 5);
                self.evict();
            } else {
                // Literal with incremental indexing (6-bit index), or without indexing or
                // never indexed (4-bit index); index 0 means the name follows.
                let indexing = first & 0xc0 == 0x40;
                let index = decode_integer(&mut input, if indexing { 6 } else { 4 });
                let name = match index {
                    0 => self.string(&mut input),
                    index => self.entry(index).0,
                };
                let field = (name, self.string(&mut input));
                if indexing {
                    self.table.push_front(field.clone());
                    self.evict();
                }
                fields.push(field);
            }
        }
        fields
    }

    fn entry(&self, index: usize) -> (String, String) {
        match index {
            1..=61 => {
                let (name, value) = STATIC_TABLE[index - 1];
                (name.to_owned(), value.to_owned())
            }
            _ => self.table[index - 62].clone(),
        }
    }

    /// Drops the oldest entries until the table fits (RFC 7541 §4.1: 32 bytes of overhead each).
    fn evict(&mut self) {
        let size = |table: &VecDeque<(String, String)>| -> usize {
            table
                .iter()
                .map(|(name, value)| name.len() + value.len() + 32)
                .sum()
        };
        while size(&self.table) > self.max_size {
            self.table.pop_back();
        }
    }

    fn string(&self, input: &mut &[u8]) -> String {
        let huffman = input[0] & 0x80 != 0;
        let length = decode_integer(input, 7);
        let (bytes, rest) = input.split_at(length);
        *input = rest;
        if huffman {
            self.unhuffman(bytes)
        } else {
            String::from_utf8(bytes.to_vec()).unwrap()
        }
    }

    fn unhuffman(&self, bytes: &[u8]) -> String {
        let mut text = String::new();
        let (mut code, mut length) = (0u32, 0u8);
        for bit in bytes
            .iter()
            .flat_map(|byte| (0..8).rev().map(move |shift| (byte >> shift) & 1))
        {
            code = code << 1 | u32::from(bit);
            length += 1;
            if let Some(symbol) = self.huffman.get(&(length, code)) {
                text.push(char::from(*symbol));
                (code, length) = (0, 0);
            }
            assert!(
                length <= 12,
                "a Huffman code this decoder lacks in {bytes:02x?}"
            );
        }
        // The padding: fewer than 8 bits, all ones (the start of the EOS code).
        assert!(
            length < 8 && code == (1 << length) - 1,
            "bad Huffman padding in {bytes:02x?}"
        );
        text
    }
}

/// An HPACK integer whose prefix is the low `prefix` bits of the first byte (RFC 7541 §5.1).
fn decode_integer(input: &mut &[u8], prefix: u32) -> usize {
    let max = (1usize << prefix) - 1;
    let mut value = input[0] as usize & max;
    *input = &input[1..];
    if value < max {
        return value;
    }
    let mut shift = 0;
    loop {
        let byte = input[0];
        *input = &input[1..];
        value += ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return value;
        }
    }
}

#[test]
fn hpack_decodes_the_rfc_examples() {
    let mut decoder = Decoder::default();
    // RFC 7541 C.4.1–C.4.3: requests with Huffman coding, the dynamic table filling up.
    let first = decoder.decode(&hex::decode("828684418cf1e3c2e5f23a6ba0ab90f4ff").unwrap());
    assert_eq!(first[3], (":authority".into(), "www.example.com".into()));
    let second = decoder.decode(&hex::decode("828684be5886a8eb10649cbf").unwrap());
    assert_eq!(second[3], (":authority".into(), "www.example.com".into()));
    assert_eq!(second[4], ("cache-control".into(), "no-cache".into()));
    let third =
        decoder.decode(&hex::decode("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf").unwrap());
    assert_eq!(third[2], (":path".into(), "/index.html".into()));
    assert_eq!(third[4], ("custom-key".into(), "custom-value".into()));
    // What this module writes, it reads.
    let mut block = Vec::new();
    encode_integer(&mut block, 300, 5, 0x20);
    assert_eq!(decode_integer(&mut &block[..], 5), 300);
}
