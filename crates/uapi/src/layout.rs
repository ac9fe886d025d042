//! Declaring uAPI structs and constants together with their C layout.
//!
//! Every struct and constant is declared through [`uapi_structs!`] or [`uapi_consts!`], which
//! record the C name, size and the offset and size of every field. The ABI test compiles a C
//! program against the kernel's own headers that prints the same facts and compares them, so a
//! layout that differs from Linux cannot go unnoticed.

/// The C layout of one field, as the kernel headers spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// The member designator in C (`out_data_type`, `mock_domain.out_stdev_id`).
    pub c_path: &'static str,
    /// `offsetof` in bytes.
    pub offset: usize,
    /// `sizeof` the member in bytes.
    pub size: usize,
}

/// The C layout of one struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructLayout {
    /// The C struct tag, without `struct`.
    pub c_name: &'static str,
    /// `sizeof(struct c_name)`.
    pub size: usize,
    /// Fields that exist in C. Explicit padding we add for `zerocopy` is not listed.
    pub fields: &'static [FieldLayout],
}

/// One constant (ioctl number, flag, enum value) with the C name it has in the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstLayout {
    /// The macro or enumerator name in C.
    pub c_name: &'static str,
    /// Its value, widened to 64 bits.
    pub value: u64,
}

/// Implemented by every uAPI struct: its C layout.
pub trait CLayout {
    /// The layout facts of `Self`.
    const LAYOUT: StructLayout;
}

/// `offsetofend(T, field)`: the end of a field, as the kernel's minimum sizes are expressed.
#[macro_export]
macro_rules! offset_of_end {
    ($ty:ty, $field:ident) => {
        ::core::mem::offset_of!($ty, $field) + {
            const fn size_of_field<T>(_: fn(&$ty) -> &T) -> usize {
                ::core::mem::size_of::<T>()
            }
            size_of_field(|s: &$ty| &s.$field)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __field_layouts {
    ($ty:ty; ) => { &[] as &[$crate::layout::FieldLayout] };
    ($ty:ty; $($field:ident $(=> $c:tt)?),+) => {
        $crate::__field_layouts!(@acc $ty; []; $($field $(=> $c)?),+)
    };
    (@acc $ty:ty; [$($done:expr,)*]; ) => { &[$($done,)*] };
    (@acc $ty:ty; [$($done:expr,)*]; $field:ident => _ $(, $($rest:tt)*)?) => {
        $crate::__field_layouts!(@acc $ty; [$($done,)*]; $($($rest)*)?)
    };
    (@acc $ty:ty; [$($done:expr,)*]; $field:ident => $c:literal $(, $($rest:tt)*)?) => {
        $crate::__field_layouts!(@acc $ty; [$($done,)* $crate::layout::FieldLayout {
            c_path: $c,
            offset: ::core::mem::offset_of!($ty, $field),
            size: $crate::offset_of_end!($ty, $field) - ::core::mem::offset_of!($ty, $field),
        },]; $($($rest)*)?)
    };
    (@acc $ty:ty; [$($done:expr,)*]; $field:ident $(, $($rest:tt)*)?) => {
        $crate::__field_layouts!(@acc $ty; [$($done,)* $crate::layout::FieldLayout {
            c_path: stringify!($field),
            offset: ::core::mem::offset_of!($ty, $field),
            size: $crate::offset_of_end!($ty, $field) - ::core::mem::offset_of!($ty, $field),
        },]; $($($rest)*)?)
    };
}

/// Declares `#[repr(C)]` uAPI structs and a `STRUCTS` table of their layouts.
///
/// ```text
/// uapi_structs! {
///     /// doc
///     pub struct IommuDestroy = "iommu_destroy" {
///         /// doc
///         pub size: u32,
///         pub id: u32,
///         pub out_type: u32 => "out_data_type",   // C name differs (an anonymous union)
///         pub __pad: u32 => _,                    // explicit padding; not a C field
///     }
/// }
/// ```
/// Field names keep the kernel's spelling so that docs and code read like the header.
#[macro_export]
macro_rules! uapi_structs {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident = $c_name:literal {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $fty:ty $(=> $c:tt)?
            ),* $(,)?
        }
    )*) => {
        $(
            $(#[$meta])*
            #[repr(C)]
            #[derive(
                Clone, Copy, Debug, PartialEq, Eq,
                ::zerocopy::FromBytes, ::zerocopy::IntoBytes,
                ::zerocopy::Immutable, ::zerocopy::KnownLayout,
            )]
            #[allow(non_snake_case)]
            pub struct $name {
                $(
                    $(#[$fmeta])*
                    pub $field: $fty,
                )*
            }

            impl Default for $name {
                fn default() -> Self {
                    ::zerocopy::FromZeros::new_zeroed()
                }
            }

            impl $crate::layout::CLayout for $name {
                const LAYOUT: $crate::layout::StructLayout = $crate::layout::StructLayout {
                    c_name: $c_name,
                    size: ::core::mem::size_of::<$name>(),
                    fields: $crate::__field_layouts!($name; $($field $(=> $c)?),*),
                };
            }
        )*

        /// The C layouts of the structs declared in this module.
        pub const STRUCTS: &[$crate::layout::StructLayout] =
            &[$(<$name as $crate::layout::CLayout>::LAYOUT),*];
    };
}

/// Declares uAPI constants under their C names and a `CONSTS` table of them.
///
/// ```text
/// uapi_consts! {
///     /// doc
///     pub const IOMMU_IOAS_MAP_FIXED_IOVA: u32 = 1 << 0;
/// }
/// ```
#[macro_export]
macro_rules! uapi_consts {
    ($(
        $(#[$meta:meta])*
        pub const $name:ident : $ty:ty = $value:expr;
    )*) => {
        $(
            $(#[$meta])*
            pub const $name: $ty = $value;
        )*

        /// The constants declared in this module, by C name.
        pub const CONSTS: &[$crate::layout::ConstLayout] = &[$(
            $crate::layout::ConstLayout { c_name: stringify!($name), value: $name as u64 },
        )*];
    };
}
