import Foundation

/// Durations as people read them on a terminal.
public enum ClockText {
    /// `m:ss`, or `h:mm:ss` from an hour on; seconds rounded.
    public static func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
