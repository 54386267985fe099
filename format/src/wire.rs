//! Low-level byte encoding shared by every part of the file: LEB128 varints,
//! zigzag signed integers, length-prefixed byte strings, and a tiny
//! protobuf-like "message" encoding (numbered, typed fields that an older
//! reader can skip) used for every structure that is not on the hot path.
//!
//! The event records inside chunks use the varint helpers directly, without
//! field numbers, because they are decoded tens of millions of times per
//! second; everything else (header, snapshot, summaries, statistics, index)
//! is a message, so fields can be added in a minor version without breaking
//! readers.

/// A decoding failure inside a buffer; the caller adds the file offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub &'static str);

pub(crate) type WireResult<T> = Result<T, Malformed>;

/// Appends `value` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, value: u64) {
    if value < 0x80 {
        buf.push(value as u8);
    } else {
        put_long_uvarint(buf, value);
    }
}

/// [`put_uvarint`] of two bytes or more (raw syscall arguments are often
/// pointers of seven): the bytes are made in a fixed block that is copied
/// whole and cut back, one capacity check and one copy of known size
/// instead of a push per byte.
#[inline(never)]
fn put_long_uvarint(buf: &mut Vec<u8>, mut value: u64) {
    let mut block = [0u8; 10];
    let mut len = 0;
    while value >= 0x80 {
        block[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    block[len] = value as u8;
    let end = buf.len() + len + 1;
    buf.extend_from_slice(&block);
    buf.truncate(end);
}

/// Maps signed to unsigned so that small magnitudes stay short.
#[inline]
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Appends `value` as a zigzag varint.
#[inline]
pub(crate) fn put_ivarint(buf: &mut Vec<u8>, value: i64) {
    put_uvarint(buf, zigzag(value));
}

/// Appends a varint length followed by the bytes.
#[inline]
pub(crate) fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// A forward-only reader over a byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes from `start` up to the current position.
    pub(crate) fn slice_from(&self, start: usize) -> &'a [u8] {
        self.data.get(start..self.pos).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> WireResult<u8> {
        let byte = *self
            .data
            .get(self.pos)
            .ok_or(Malformed("unexpected end of data"))?;
        self.pos += 1;
        Ok(byte)
    }

    #[inline(always)]
    pub(crate) fn uvarint(&mut self) -> WireResult<u64> {
        // Fast paths: in event columns nearly every value fits in one or two
        // bytes (small deltas, sizes, latencies in the microseconds).
        if let Some(&first) = self.data.get(self.pos) {
            if first < 0x80 {
                self.pos += 1;
                return Ok(u64::from(first));
            }
            if let Some(&second) = self.data.get(self.pos + 1)
                && second < 0x80
            {
                self.pos += 2;
                return Ok(u64::from(first & 0x7f) | (u64::from(second) << 7));
            }
        }
        self.uvarint_multibyte()
    }

    /// Multi-byte varints: unrolled over a 10-byte window when the buffer
    /// has one (no per-byte bounds checks), byte by byte near its end.
    #[inline(never)]
    fn uvarint_multibyte(&mut self) -> WireResult<u64> {
        if let Some(window) = self.data.get(self.pos..self.pos + 10) {
            let mut result = 0u64;
            for (i, &byte) in window.iter().enumerate() {
                result |= u64::from(byte & 0x7f) << (7 * i);
                if byte < 0x80 {
                    if i == 9 && byte > 1 {
                        return Err(Malformed("varint overflows 64 bits"));
                    }
                    self.pos += i + 1;
                    return Ok(result);
                }
            }
            return Err(Malformed("varint longer than 10 bytes"));
        }
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return Err(Malformed("varint overflows 64 bits"));
            }
            result |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(result);
            }
            shift += 7;
            if shift > 63 {
                return Err(Malformed("varint longer than 10 bytes"));
            }
        }
    }

    #[inline]
    pub(crate) fn ivarint(&mut self) -> WireResult<i64> {
        self.uvarint().map(unzigzag)
    }

    /// Reads a varint and checks that it fits the target integer type.
    #[inline]
    pub(crate) fn uvarint_as<T: TryFrom<u64>>(&mut self, what: &'static str) -> WireResult<T> {
        T::try_from(self.uvarint()?).map_err(|_| Malformed(what))
    }

    #[inline]
    pub(crate) fn take(&mut self, len: usize) -> WireResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or(Malformed("length overflow"))?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or(Malformed("unexpected end of data"))?;
        self.pos = end;
        Ok(bytes)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> WireResult<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a varint length and that many bytes.
    #[inline]
    pub(crate) fn bytes(&mut self) -> WireResult<&'a [u8]> {
        let len = self.uvarint_as::<usize>("length does not fit in memory")?;
        self.take(len)
    }
}

/// Wire type of a message field: a varint, or a length-delimited byte string.
const WIRE_VARINT: u64 = 0;
const WIRE_BYTES: u64 = 2;

/// Builds a message: a sequence of `(field number, value)` pairs.
///
/// Zero integers and empty strings are omitted, as the reader's defaults are
/// zero and empty; repeated fields are written as repeated pairs.
#[derive(Debug, Default)]
pub(crate) struct MessageWriter {
    buf: Vec<u8>,
}

impl MessageWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn uint(&mut self, field: u32, value: u64) -> &mut Self {
        if value != 0 {
            put_uvarint(&mut self.buf, (u64::from(field) << 3) | WIRE_VARINT);
            put_uvarint(&mut self.buf, value);
        }
        self
    }

    pub(crate) fn int(&mut self, field: u32, value: i64) -> &mut Self {
        self.uint(field, zigzag(value))
    }

    pub(crate) fn bool(&mut self, field: u32, value: bool) -> &mut Self {
        self.uint(field, u64::from(value))
    }

    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        if !value.is_empty() {
            self.repeated_bytes(field, value);
        }
        self
    }

    /// Writes a byte string even when empty (for repeated fields, where an
    /// empty element is still an element).
    pub(crate) fn repeated_bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        put_uvarint(&mut self.buf, (u64::from(field) << 3) | WIRE_BYTES);
        put_bytes(&mut self.buf, value);
        self
    }

    pub(crate) fn str(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    /// Appends the fields of an encoded message as fields of this one.
    pub(crate) fn fields(&mut self, message: &[u8]) {
        self.buf.extend_from_slice(message);
    }

    pub(crate) fn message(&mut self, field: u32, value: &MessageWriter) -> &mut Self {
        self.repeated_bytes(field, &value.buf)
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// One field read from a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldValue<'a> {
    Uint(u64),
    Bytes(&'a [u8]),
}

impl<'a> FieldValue<'a> {
    pub(crate) fn uint(self) -> WireResult<u64> {
        match self {
            FieldValue::Uint(value) => Ok(value),
            FieldValue::Bytes(_) => Err(Malformed("expected an integer field")),
        }
    }

    pub(crate) fn uint_as<T: TryFrom<u64>>(self) -> WireResult<T> {
        T::try_from(self.uint()?).map_err(|_| Malformed("integer field out of range"))
    }

    pub(crate) fn int(self) -> WireResult<i64> {
        self.uint().map(unzigzag)
    }

    pub(crate) fn bool(self) -> WireResult<bool> {
        self.uint().map(|value| value != 0)
    }

    pub(crate) fn bytes(self) -> WireResult<&'a [u8]> {
        match self {
            FieldValue::Bytes(bytes) => Ok(bytes),
            FieldValue::Uint(_) => Err(Malformed("expected a byte-string field")),
        }
    }

    pub(crate) fn string(self) -> WireResult<String> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|_| Malformed("text field is not UTF-8"))
    }

    pub(crate) fn message(self) -> WireResult<MessageReader<'a>> {
        self.bytes().map(MessageReader::new)
    }
}

/// Iterates over the fields of a message; unknown wire types are errors,
/// unknown field numbers are the caller's to ignore.
#[derive(Debug, Clone)]
pub(crate) struct MessageReader<'a> {
    cursor: Cursor<'a>,
}

impl<'a> MessageReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self {
            cursor: Cursor::new(data),
        }
    }
}

impl<'a> Iterator for MessageReader<'a> {
    type Item = WireResult<(u32, FieldValue<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.cursor.is_empty() {
            return None;
        }
        let field = (|| {
            let key = self.cursor.uvarint()?;
            let number =
                u32::try_from(key >> 3).map_err(|_| Malformed("field number too large"))?;
            let value = match key & 7 {
                WIRE_VARINT => FieldValue::Uint(self.cursor.uvarint()?),
                WIRE_BYTES => FieldValue::Bytes(self.cursor.bytes()?),
                _ => return Err(Malformed("unknown field wire type")),
            };
            Ok((number, value))
        })();
        if field.is_err() {
            // Stop after the first error rather than reading garbage.
            self.cursor = Cursor::new(&[]);
        }
        Some(field)
    }
}

/// One column of a table being written: how many times each row has the
/// field, and the values in row order.
#[derive(Debug, Default)]
struct TableColumn {
    counts: Vec<u32>,
    values: Vec<u8>,
    previous: u64,
}

/// Writes a list of messages column by column (FORMAT.md, "Tables"): per
/// field, how many times each row has it, then every row's values, integers
/// as differences from the value before. A snapshot's processes, threads and
/// fds repeat the same fields with similar values (neighbouring pids, one
/// loginuid, a handful of paths), which compress far better side by side
/// than interleaved record by record.
pub(crate) fn encode_table(rows: &[Vec<u8>]) -> Vec<u8> {
    let mut columns: std::collections::BTreeMap<u64, TableColumn> = Default::default();
    for (row_index, row) in rows.iter().enumerate() {
        for field in MessageReader::new(row) {
            let Ok((number, value)) = field else { break };
            let wire = match value {
                FieldValue::Uint(_) => WIRE_VARINT,
                FieldValue::Bytes(_) => WIRE_BYTES,
            };
            let column = columns.entry((u64::from(number) << 3) | wire).or_default();
            column.counts.resize(row_index + 1, 0);
            column.counts[row_index] += 1;
            match value {
                FieldValue::Uint(v) => {
                    put_ivarint(&mut column.values, v.wrapping_sub(column.previous) as i64);
                    column.previous = v;
                }
                FieldValue::Bytes(bytes) => put_bytes(&mut column.values, bytes),
            }
        }
    }
    let mut out = Vec::new();
    put_uvarint(&mut out, rows.len() as u64);
    for (key, column) in columns {
        put_uvarint(&mut out, key);
        for row_index in 0..rows.len() {
            put_uvarint(
                &mut out,
                column.counts.get(row_index).copied().unwrap_or(0).into(),
            );
        }
        out.extend_from_slice(&column.values);
    }
    out
}

/// Reads a table written by [`encode_table`] back into its messages, each
/// with its fields in field-number order.
pub(crate) fn decode_table(bytes: &[u8]) -> WireResult<Vec<Vec<u8>>> {
    let mut cursor = Cursor::new(bytes);
    let row_count: usize = cursor.uvarint_as("table too long")?;
    // Every column takes at least a byte per row, and a writer writes a
    // table only when it has at most as many rows as bytes.
    if row_count > bytes.len() {
        return Err(Malformed("table rows exceed its bytes"));
    }
    let mut rows = vec![Vec::new(); row_count];
    let mut counts = Vec::with_capacity(row_count);
    while !cursor.is_empty() {
        let key = cursor.uvarint()?;
        let wire = key & 7;
        if wire != WIRE_VARINT && wire != WIRE_BYTES {
            return Err(Malformed("unknown field wire type"));
        }
        counts.clear();
        for _ in 0..row_count {
            counts.push(cursor.uvarint()?);
        }
        let mut previous = 0u64;
        for (row, &count) in rows.iter_mut().zip(&counts) {
            for _ in 0..count {
                put_uvarint(row, key);
                if wire == WIRE_VARINT {
                    previous = previous.wrapping_add(cursor.ivarint()? as u64);
                    put_uvarint(row, previous);
                } else {
                    put_bytes(row, cursor.bytes()?);
                }
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        let values = [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut buf = Vec::new();
        for &v in &values {
            put_uvarint(&mut buf, v);
        }
        let mut cursor = Cursor::new(&buf);
        for &v in &values {
            assert_eq!(cursor.uvarint(), Ok(v));
        }
        assert!(cursor.is_empty());
    }

    #[test]
    fn zigzag_round_trips_signed_extremes() {
        for v in [0, -1, 1, i64::MIN, i64::MAX, -4096] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let buf = [0xffu8; 11];
        assert!(Cursor::new(&buf).uvarint().is_err());
    }

    #[test]
    fn truncated_bytes_are_rejected() {
        let mut buf = Vec::new();
        put_uvarint(&mut buf, 10);
        buf.extend_from_slice(b"abc");
        assert!(Cursor::new(&buf).bytes().is_err());
    }

    #[test]
    fn messages_skip_nothing_and_keep_order() {
        let mut msg = MessageWriter::new();
        msg.uint(1, 5).str(2, "x").uint(3, 0).repeated_bytes(4, b"");
        let bytes = msg.finish();
        let fields: Vec<_> = MessageReader::new(&bytes)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            fields.len(),
            3,
            "zero integers are omitted, empty repeated kept"
        );
        assert_eq!(fields[0].0, 1);
        assert_eq!(fields[1].1.string().unwrap(), "x");
        assert_eq!(fields[2].0, 4);
    }

    #[test]
    fn tables_give_back_their_rows_with_missing_repeated_and_empty_fields() {
        let mut first = MessageWriter::new();
        first
            .uint(1, 300)
            .bytes(2, b"bash")
            .repeated_bytes(3, b"-c")
            .repeated_bytes(3, b"");
        let mut second = MessageWriter::new();
        second.uint(1, 12).bytes(2, b"bash").uint(4, u64::MAX);
        let rows = vec![first.finish(), Vec::new(), second.finish()];
        let table = encode_table(&rows);
        assert_eq!(decode_table(&table).unwrap(), rows);
        // Integers are stored as differences: a descending column too.
        let descending: Vec<Vec<u8>> = (0..5u64)
            .map(|i| {
                let mut row = MessageWriter::new();
                row.uint(1, 1000 - i * 100);
                row.finish()
            })
            .collect();
        assert_eq!(
            decode_table(&encode_table(&descending)).unwrap(),
            descending
        );
    }

    #[test]
    fn a_table_claiming_more_rows_than_bytes_is_refused() {
        let mut table = Vec::new();
        put_uvarint(&mut table, 1 << 40);
        assert!(decode_table(&table).is_err());
        // A column cut short is an error, not a partial table.
        let mut row = MessageWriter::new();
        row.bytes(2, b"systemd");
        let whole = encode_table(&[row.finish()]);
        assert!(decode_table(&whole[..whole.len() - 1]).is_err());
    }
}
