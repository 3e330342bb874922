//! Helpers shared by the unit tests of several modules.

/// Damages `text` at `at` with `byte`, as `how` (0, 1 or 2, a random draw) says: the byte
/// replaced, `byte` inserted before it, or the byte removed. For tests that feed fast readers
/// and checkers random broken input.
pub(crate) fn damage(text: &mut Vec<u8>, at: usize, byte: u8, how: u32) {
    match how {
        0 => text[at] = byte,
        1 => text.insert(at, byte),
        _ => {
            text.remove(at);
        }
    }
}
