//! A small macro for typed flag words: a newtype over the uAPI integer with named constants,
//! `|`, `&`, `contains` and a `Debug` that prints the names.

/// Declares a flags newtype.
macro_rules! flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident: $ty:ty {
            $(
                $(#[$fmeta:meta])*
                const $flag:ident = $value:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($ty);

        impl $name {
            $(
                $(#[$fmeta])*
                pub const $flag: $name = $name($value);
            )*

            /// No flags.
            pub const fn empty() -> Self {
                $name(0)
            }

            /// From the raw uAPI value; bits without a name are kept (the kernel judges them).
            pub const fn from_bits_retain(bits: $ty) -> Self {
                $name(bits)
            }

            /// The raw uAPI value.
            pub const fn bits(self) -> $ty {
                self.0
            }

            /// Whether every flag of `other` is set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// Both sets of flags.
            pub const fn union(self, other: Self) -> Self {
                $name(self.0 | other.0)
            }

            /// Whether no flag is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
        }

        impl ::core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                $name(self.0 | rhs.0)
            }
        }

        impl ::core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl ::core::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                $name(self.0 & rhs.0)
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut rest = self.0;
                let mut first = true;
                write!(f, "{}(", stringify!($name))?;
                $(
                    let v: $ty = $value;
                    if v != 0 && rest & v == v {
                        if !first { write!(f, " | ")?; }
                        write!(f, "{}", stringify!($flag))?;
                        rest &= !v;
                        first = false;
                    }
                )*
                if rest != 0 {
                    if !first { write!(f, " | ")?; }
                    write!(f, "{:#x}", rest)?;
                }
                write!(f, ")")
            }
        }
    };
}

pub(crate) use flags;
