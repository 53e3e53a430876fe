//! What decoding a header block yields: [`Event`]s carrying [`Field`]s whose name and value
//! are each [`Text::Known`] bytes or [`Text::Unknown`].

/// One step of a header block, in block order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A header field.
    Field(Field<'a>),
    /// A dynamic table size update: the encoder's table is now limited to this many bytes.
    SizeUpdate(u32),
}

/// A decoded header field. The bytes borrow the block, the scratch buffer, the static table or
/// the dynamic table, and live only for the callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name.
    pub name: Text<'a>,
    /// The field value.
    pub value: Text<'a>,
    /// Sent as "literal never indexed": an intermediary must not compress it (RFC 7541
    /// §6.2.3), typically because it is sensitive.
    pub never_indexed: bool,
}

impl Field<'_> {
    /// Both name and value are known.
    pub fn is_known(&self) -> bool {
        matches!((self.name, self.value), (Text::Known(_), Text::Known(_)))
    }
}

/// A name or a value: its exact bytes, or why they cannot be known. Never wrong bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text<'a> {
    /// The exact bytes.
    Known(&'a [u8]),
    /// Bytes this decoder cannot know.
    Unknown(Unknown),
}

impl<'a> Text<'a> {
    /// The bytes, when known.
    pub fn known(self) -> Option<&'a [u8]> {
        match self {
            Text::Known(b) => Some(b),
            Text::Unknown(_) => None,
        }
    }
}

/// Why a name or value is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// It comes from a dynamic table entry inserted before the capture started or before
    /// something was lost, or one dropped from our smaller table.
    NotSeen,
    /// It was longer than the scratch buffer (a string) or than our table (an entry).
    TooLong,
}
