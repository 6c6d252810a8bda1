import Foundation

/// Reading numeric CSV tables.
///
/// Fields are separated by commas and may be double-quoted (a doubled quote inside quotes
/// is a literal quote; quoted fields may span lines). Lines end in `\n` or `\r\n`; a UTF-8
/// byte-order mark is skipped; spaces and tabs around a field are ignored. The first row
/// is taken as a header when any of its fields is non-empty and not a number; every other
/// row must be all numbers (decimal forms `Double(_:)` accepts, e.g. `-1.5e3`, `nan`,
/// `inf`; hexadecimal floats are rejected). Blank lines at the end are ignored; a blank
/// line elsewhere is an error.
public enum CSVTable {
    /// Reads a CSV file.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `path` when the file cannot be
    ///   read, is not UTF-8, or is malformed (see ``read(_:source:)``).
    public static func read(contentsOf path: String) throws -> (header: [String]?, rows: Int, columns: Int, values: [Double]) {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw TerrainError.invalidData("\(path): cannot read file")
        }
        guard let text = String(data: d, encoding: .utf8) else {
            throw TerrainError.invalidData("\(path): not valid UTF-8 text")
        }
        return try read(text, source: path)
    }

    /// Parses CSV text into an optional header and row-major values.
    ///
    /// - Parameter source: names the text in error messages.
    /// - Returns: the header (when the first row has a non-empty, non-numeric field), the number of
    ///   data rows and columns, and the `rows * columns` values row by row.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `source` and the line (and column)
    ///   at fault for: a row whose field count differs from the first row's, a non-numeric
    ///   or empty cell in a data row, a blank line before the end, an unterminated quote,
    ///   or text after a closing quote.
    public static func read(_ text: String, source: String) throws -> (header: [String]?, rows: Int, columns: Int, values: [Double]) {
        var header: [String]?
        var columns = -1
        var rows = 0
        var values: [Double] = []
        var pendingBlank: Int?  // line number of a blank line not yet known to be trailing
        var firstRow = true
        var utf8 = Array(text.utf8)
        if utf8.starts(with: [0xEF, 0xBB, 0xBF]) { utf8.removeFirst(3) }
        try forEachRecord(utf8, source: source) { line, fields in
            if fields.count == 1 && !fields[0].quoted && isBlank(fields[0].bytes) {
                if pendingBlank == nil { pendingBlank = line }
                return
            }
            if let blank = pendingBlank {
                throw TerrainError.invalidData("\(source): line \(blank) is blank (blank lines are allowed only at the end)")
            }
            if firstRow {
                firstRow = false
                columns = fields.count
                // A header has at least one non-empty, non-numeric field. (An empty field
                // alone does not make a header: it is reported as an empty data cell.)
                if fields.contains(where: { !trim($0.bytes).isEmpty && number($0.bytes) == nil }) {
                    header = fields.map { String(decoding: trim($0.bytes), as: UTF8.self) }
                    return
                }
            }
            guard fields.count == columns else {
                throw TerrainError.invalidData("\(source): line \(line) has \(fields.count) field\(fields.count == 1 ? "" : "s"), expected \(columns) (as in the first row)")
            }
            for (c, f) in fields.enumerated() {
                guard let v = number(f.bytes) else {
                    let cell = String(decoding: trim(f.bytes), as: UTF8.self)
                    let what = cell.isEmpty ? "is empty" : "'\(cell)' is not a number"
                    throw TerrainError.invalidData("\(source): line \(line), column \(c + 1): \(what)")
                }
                values.append(v)
            }
            rows += 1
        }
        return (header, rows, max(columns, 0), values)
    }

    struct Field {
        var bytes: ArraySlice<UInt8>
        var quoted: Bool
    }

    /// Splits `s` into records of fields, calling `body(lineNumber, fields)` for each record
    /// (line number of the record's first line, 1-based). Quoted fields are unescaped.
    static func forEachRecord(_ s: [UInt8], source: String, _ body: (Int, [Field]) throws -> Void) throws {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var i = 0
        var line = 1
        let n = s.count
        while i < n {
            let recordLine = line
            var fields: [Field] = []
            var endOfRecord = false
            while !endOfRecord {
                // Skip leading blanks to detect a quoted field.
                var j = i
                while j < n && (s[j] == 0x20 || s[j] == 0x09) { j += 1 }
                if j < n && s[j] == quote {
                    var buf: [UInt8] = []
                    var k = j + 1
                    var closed = false
                    while k < n {
                        if s[k] == quote {
                            if k + 1 < n && s[k + 1] == quote { buf.append(quote); k += 2; continue }
                            closed = true
                            k += 1
                            break
                        }
                        if s[k] == lf { line += 1 }
                        buf.append(s[k])
                        k += 1
                    }
                    guard closed else {
                        throw TerrainError.invalidData("\(source): line \(recordLine): unterminated quoted field")
                    }
                    while k < n && (s[k] == 0x20 || s[k] == 0x09) { k += 1 }
                    if k < n && s[k] == cr && k + 1 < n && s[k + 1] == lf { k += 1 }
                    guard k == n || s[k] == comma || s[k] == lf else {
                        throw TerrainError.invalidData("\(source): line \(line): unexpected text after a closing quote")
                    }
                    fields.append(Field(bytes: buf[...], quoted: true))
                    if k < n && s[k] == comma { i = k + 1 } else { i = k + 1; endOfRecord = true; line += 1 }
                    if k >= n { endOfRecord = true }
                } else {
                    var k = i
                    while k < n && s[k] != comma && s[k] != lf { k += 1 }
                    var end = k
                    if k < n && s[k] == lf && end > i && s[end - 1] == cr { end -= 1 }
                    if k == n && end > i && s[end - 1] == cr { end -= 1 }
                    fields.append(Field(bytes: s[i..<end], quoted: false))
                    if k < n && s[k] == comma {
                        i = k + 1
                        if i == n { fields.append(Field(bytes: [], quoted: false)); endOfRecord = true }
                    } else {
                        i = k + 1
                        endOfRecord = true
                        line += 1
                    }
                }
            }
            try body(recordLine, fields)
        }
    }

    static func isBlank(_ b: ArraySlice<UInt8>) -> Bool {
        b.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    static func trim(_ b: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = b.startIndex, hi = b.endIndex
        while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
        while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09 || b[hi - 1] == 0x0D) { hi -= 1 }
        return b[lo..<hi]
    }

    /// Parses a trimmed field as a number; nil when it is empty or not numeric.
    static func number(_ b: ArraySlice<UInt8>) -> Double? {
        let t = trim(b)
        if t.isEmpty { return nil }
        // Reject hexadecimal floats, which Double(_:) accepts but CSV writers never produce.
        if t.contains(where: { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }) { return nil }
        return Double(String(decoding: t, as: UTF8.self))
    }
}
