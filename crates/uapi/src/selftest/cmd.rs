//! `struct iommu_test_cmd` and `IOMMU_TEST_CMD` (`drivers/iommu/iommufd/iommufd_test.h`).
//!
//! In C the command is a header (`size`, `op`, `id`, `__reserved`), an anonymous union with
//! one anonymous struct per operation, and `__u32 last`. Several union members leave implicit
//! padding, which `zerocopy` cannot allow; so here the union is an 8-aligned byte array,
//! [`IommuTestCmd::payload`], and each member is a named Rust struct with explicit padding
//! ([`TestMockDomain`], [`TestCheckMap`], ...) implementing [`TestCmdMember`]. Read and write
//! members with [`IommuTestCmd::member`] / [`IommuTestCmd::member_mut`], build a command with
//! [`IommuTestCmd::new`], or decode one by its `op` with [`IommuTestCmd::decode`].
//!
//! The layout registered for the ABI test lists every member field under its C designator
//! (`mock_domain.out_stdev_id`, `check_refs.refs`, ...) and every member as a whole.

use core::mem::{offset_of, size_of};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::ioctl::io;
use crate::iommufd::{IOMMUFD_CMD_BASE, IOMMUFD_TYPE};
use crate::layout::{CLayout, FieldLayout, StructLayout};

/// Size of the C union: its largest member, `dirty`.
pub const TEST_CMD_PAYLOAD_SIZE: usize = 48;

/// The bytes of `iommu_test_cmd`'s anonymous union, aligned like the union (8).
#[repr(C, align(8))]
#[derive(Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TestCmdPayload(pub [u8; TEST_CMD_PAYLOAD_SIZE]);

impl Default for TestCmdPayload {
    fn default() -> Self {
        Self([0; TEST_CMD_PAYLOAD_SIZE])
    }
}

impl core::fmt::Debug for TestCmdPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TestCmdPayload({:02x?})", &self.0)
    }
}

/// `struct iommu_test_cmd` — ioctl(IOMMU_TEST_CMD): one operation of the selftest mock
/// driver. The kernel requires `size` to reach `last`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct IommuTestCmd {
    /// `sizeof(struct iommu_test_cmd)`.
    pub size: u32,
    /// An `IOMMU_TEST_OP_*` value; selects the union member.
    pub op: u32,
    /// The object the operation applies to (IOAS, HWPT, selftest device, access fd, ...),
    /// per operation.
    pub id: u32,
    /// Must be 0.
    pub __reserved: u32,
    /// The anonymous union; see [`TestCmdMember`].
    pub payload: TestCmdPayload,
    /// Marks the end of the struct for the minimum size; not used otherwise.
    pub last: u32,
    /// Tail padding the C struct leaves implicit; not a C field.
    pub __pad: u32,
}

/// One member of `iommu_test_cmd`'s union: a Rust struct with the member's C layout.
pub trait TestCmdMember: FromBytes + IntoBytes + Immutable + KnownLayout + Copy {
    /// The `IOMMU_TEST_OP_*` that uses this member.
    const OP: u32;
    /// The member's name in the C union (`mock_domain`, `check_refs`, ...).
    const C_MEMBER: &'static str;
    /// The member's fields, with C designators (`check_refs.refs`) and offsets within the
    /// member; explicit padding is not listed.
    const FIELDS: &'static [FieldLayout];
}

/// Offset of the union in `iommu_test_cmd`.
pub const TEST_CMD_PAYLOAD_OFFSET: usize = offset_of!(IommuTestCmd, payload);

impl IommuTestCmd {
    /// The kernel's minimum `size`: up to and including `last`.
    pub const MIN_SIZE: usize = crate::offset_of_end!(IommuTestCmd, last);

    /// A command for the operation of `member`, on object `id`, with `size` set.
    pub fn new<T: TestCmdMember>(id: u32, member: T) -> Self {
        let mut cmd = Self {
            size: size_of::<Self>() as u32,
            op: T::OP,
            id,
            ..Self::default()
        };
        *cmd.member_mut::<T>() = member;
        cmd
    }

    /// The union read as member `T`, whatever `op` says (as in C).
    pub fn member<T: TestCmdMember>(&self) -> &T {
        const { assert_fits::<T>() };
        match T::ref_from_prefix(&self.payload.0) {
            Ok((member, _)) => member,
            Err(_) => unreachable!("members fit the 8-aligned payload"),
        }
    }

    /// The union as member `T`, for writing, whatever `op` says (as in C).
    pub fn member_mut<T: TestCmdMember>(&mut self) -> &mut T {
        const { assert_fits::<T>() };
        match T::mut_from_prefix(&mut self.payload.0) {
            Ok((member, _)) => member,
            Err(_) => unreachable!("members fit the 8-aligned payload"),
        }
    }

    /// The operation and its member, by `op`; `None` for an unknown `op`. Inlined, so that
    /// the dispatcher reads the member where it is rather than through an enum built for it.
    #[inline]
    pub fn decode(&self) -> Option<TestOp> {
        TestOp::decode(self)
    }
}

const fn assert_fits<T>() {
    assert!(size_of::<T>() <= TEST_CMD_PAYLOAD_SIZE);
    assert!(align_of::<T>() <= align_of::<TestCmdPayload>());
}

/// Builds a member's `FIELDS`, skipping fields marked `=> _` (explicit padding).
macro_rules! member_fields {
    (@acc $ty:ty, $c:literal; [$($done:expr,)*]; ) => { &[$($done,)*] };
    (@acc $ty:ty, $c:literal; [$($done:expr,)*]; $field:ident => _ $(, $($rest:tt)*)?) => {
        member_fields!(@acc $ty, $c; [$($done,)*]; $($($rest)*)?)
    };
    (@acc $ty:ty, $c:literal; [$($done:expr,)*]; $field:ident $(, $($rest:tt)*)?) => {
        member_fields!(@acc $ty, $c; [$($done,)* FieldLayout {
            c_path: concat!($c, ".", stringify!($field)),
            offset: offset_of!($ty, $field),
            size: crate::offset_of_end!($ty, $field) - offset_of!($ty, $field),
        },]; $($($rest)*)?)
    };
}

/// Declares the union members, [`TestOp`] and the member table.
macro_rules! test_members {
    ($(
        $(#[$meta:meta])*
        $op:ident, $variant:ident: pub struct $name:ident = $c:literal {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $fty:ty $(=> $pad:tt)?
            ),* $(,)?
        }
    )*) => {
        $(
            $(#[$meta])*
            #[repr(C)]
            #[derive(
                Clone, Copy, Debug, Default, PartialEq, Eq,
                FromBytes, IntoBytes, Immutable, KnownLayout,
            )]
            pub struct $name {
                $(
                    $(#[$fmeta])*
                    pub $field: $fty,
                )*
            }

            impl TestCmdMember for $name {
                const OP: u32 = $op;
                const C_MEMBER: &'static str = $c;
                const FIELDS: &'static [FieldLayout] =
                    member_fields!(@acc $name, $c; []; $($field $(=> $pad)?),*);
            }
        )*

        /// A decoded `IOMMU_TEST_CMD`: the operation with its union member.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum TestOp {
            $(
                #[doc = concat!("`", stringify!($op), "` (`", $c, "`).")]
                $variant($name),
            )*
        }

        impl TestOp {
            /// Decodes `cmd` by its `op`.
            #[inline]
            pub fn decode(cmd: &IommuTestCmd) -> Option<Self> {
                match cmd.op {
                    $($op => Some(Self::$variant(*cmd.member::<$name>())),)*
                    _ => None,
                }
            }

            /// The `IOMMU_TEST_OP_*` value.
            pub fn op(&self) -> u32 {
                match self {
                    $(Self::$variant(_) => $op,)*
                }
            }

            /// The command for this operation on object `id`.
            pub fn to_cmd(&self, id: u32) -> IommuTestCmd {
                match *self {
                    $(Self::$variant(m) => IommuTestCmd::new(id, m),)*
                }
            }
        }

        /// Every member: its C name, size and fields (offsets within the member).
        const MEMBERS: &[(&str, usize, &[FieldLayout])] = &[
            $(($c, size_of::<$name>(), <$name as TestCmdMember>::FIELDS),)*
        ];
    };
}

test_members! {
    /// `add_reserved` — `IOMMU_TEST_OP_ADD_RESERVED`: add a reserved IOVA range to IOAS `id`.
    IOMMU_TEST_OP_ADD_RESERVED, AddReserved: pub struct TestAddReserved = "add_reserved" {
        /// First IOVA of the range.
        pub start: u64,
        /// Bytes.
        pub length: u64,
    }

    /// `mock_domain` — `IOMMU_TEST_OP_MOCK_DOMAIN`: create a mock device, bind it and attach
    /// it to the IOAS or HWPT `id`.
    IOMMU_TEST_OP_MOCK_DOMAIN, MockDomain: pub struct TestMockDomain = "mock_domain" {
        /// Out: ID of the selftest device object (the `id` of later per-device ops).
        pub out_stdev_id: u32,
        /// Out: ID of the HWPT attached.
        pub out_hwpt_id: u32,
        /// Out: the iommufd device ID of the bound device.
        pub out_idev_id: u32,
    }

    /// `mock_domain_flags` — `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`: `mock_domain` with device
    /// flags.
    IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, MockDomainFlags:
    pub struct TestMockDomainFlags = "mock_domain_flags" {
        /// Out: as [`TestMockDomain::out_stdev_id`].
        pub out_stdev_id: u32,
        /// Out: as [`TestMockDomain::out_hwpt_id`].
        pub out_hwpt_id: u32,
        /// Out: as [`TestMockDomain::out_idev_id`].
        pub out_idev_id: u32,
        /// In: `MOCK_FLAGS_DEVICE_*`.
        pub dev_flags: u32,
    }

    /// `mock_domain_replace` — `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`: replace what selftest
    /// device `id` is attached to.
    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, MockDomainReplace:
    pub struct TestMockDomainReplace = "mock_domain_replace" {
        /// In: the IOAS or HWPT; out: the HWPT attached.
        pub pt_id: u32,
    }

    /// `check_map` — `IOMMU_TEST_OP_MD_CHECK_MAP`: check that the mock HWPT (or IOAS) `id`
    /// maps `iova..iova + length` to the memory at `uptr`.
    IOMMU_TEST_OP_MD_CHECK_MAP, CheckMap: pub struct TestCheckMap = "check_map" {
        /// First IOVA.
        pub iova: u64,
        /// Bytes.
        pub length: u64,
        /// User address expected behind `iova`.
        pub uptr: u64,
    }

    /// `check_refs` — `IOMMU_TEST_OP_MD_CHECK_REFS`: check that every page of
    /// `uptr..uptr + length` is pinned `refs` times (EIO if not).
    IOMMU_TEST_OP_MD_CHECK_REFS, CheckRefs: pub struct TestCheckRefs = "check_refs" {
        /// Bytes, page-aligned.
        pub length: u64,
        /// User address, page-aligned.
        pub uptr: u64,
        /// Expected pin count.
        pub refs: u32,
        /// Tail padding the C member leaves implicit.
        pub __pad: u32 => _,
    }

    /// `create_access` — `IOMMU_TEST_OP_CREATE_ACCESS`: create an emulated-device access on
    /// IOAS `id`, returned as an fd.
    IOMMU_TEST_OP_CREATE_ACCESS, CreateAccess: pub struct TestCreateAccess = "create_access" {
        /// Out: the access fd.
        pub out_access_fd: u32,
        /// In: `MOCK_FLAGS_ACCESS_CREATE_*`.
        pub flags: u32,
    }

    /// `destroy_access_pages` — `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES`: unpin pages pinned by
    /// access fd `id`.
    IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, DestroyAccessPages:
    pub struct TestDestroyAccessPages = "destroy_access_pages" {
        /// The ID `access_pages` returned.
        pub access_pages_id: u32,
    }

    /// `access_pages` — `IOMMU_TEST_OP_ACCESS_PAGES`: pin IOVA pages through access fd `id`
    /// and check they are the memory at `uptr`.
    IOMMU_TEST_OP_ACCESS_PAGES, AccessPages: pub struct TestAccessPages = "access_pages" {
        /// In: `MOCK_FLAGS_ACCESS_*`.
        pub flags: u32,
        /// Out: ID of the pinned range, for `destroy_access_pages`.
        pub out_access_pages_id: u32,
        /// First IOVA.
        pub iova: u64,
        /// Bytes.
        pub length: u64,
        /// User address expected behind `iova`.
        pub uptr: u64,
    }

    /// `access_rw` — `IOMMU_TEST_OP_ACCESS_RW`: read or write IOVA memory through access fd
    /// `id`, to or from `uptr`.
    IOMMU_TEST_OP_ACCESS_RW, AccessRw: pub struct TestAccessRw = "access_rw" {
        /// First IOVA.
        pub iova: u64,
        /// Bytes.
        pub length: u64,
        /// User buffer.
        pub uptr: u64,
        /// `MOCK_ACCESS_RW_*`.
        pub flags: u32,
        /// Tail padding the C member leaves implicit.
        pub __pad: u32 => _,
    }

    /// `memory_limit` — `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT`: limit the temporary memory of
    /// page batches (at least 12 bytes), to exercise the slow paths.
    IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, MemoryLimit:
    pub struct TestMemoryLimit = "memory_limit" {
        /// The limit in bytes.
        pub limit: u32,
    }

    /// `access_replace_ioas` — `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS`: move access fd `id` to
    /// another IOAS.
    IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, AccessReplaceIoas:
    pub struct TestAccessReplaceIoas = "access_replace_ioas" {
        /// The new IOAS.
        pub ioas_id: u32,
    }

    /// `dirty` — `IOMMU_TEST_OP_DIRTY`: mark the pages whose bits are set in the bitmap at
    /// `uptr` dirty in mock HWPT `id`.
    IOMMU_TEST_OP_DIRTY, Dirty: pub struct TestDirty = "dirty" {
        /// Flags (none defined).
        pub flags: u32,
        /// Padding the C member leaves implicit.
        pub __pad: u32 => _,
        /// First IOVA, a multiple of `page_size`.
        pub iova: u64,
        /// Bytes, a multiple of `page_size`.
        pub length: u64,
        /// Bytes per bitmap bit.
        pub page_size: u64,
        /// User pointer to the bitmap.
        pub uptr: u64,
        /// Out: the number of pages marked dirty.
        pub out_nr_dirty: u64,
    }

    /// `check_iotlb` — `IOMMU_TEST_OP_MD_CHECK_IOTLB`: check an IOTLB entry of nested mock
    /// HWPT `id`.
    IOMMU_TEST_OP_MD_CHECK_IOTLB, CheckIotlb: pub struct TestCheckIotlb = "check_iotlb" {
        /// Entry index, at most `MOCK_NESTED_DOMAIN_IOTLB_ID_MAX`.
        pub id: u32,
        /// Expected value.
        pub iotlb: u32,
    }

    /// `trigger_iopf` — `IOMMU_TEST_OP_TRIGGER_IOPF`: report an I/O page fault from a device.
    IOMMU_TEST_OP_TRIGGER_IOPF, TriggerIopf: pub struct TestTriggerIopf = "trigger_iopf" {
        /// The iommufd device ID.
        pub dev_id: u32,
        /// The faulting PASID (`IOMMU_NO_PASID` for none).
        pub pasid: u32,
        /// Page request group.
        pub grpid: u32,
        /// Permissions requested.
        pub perm: u32,
        /// Faulting address.
        pub addr: u64,
    }

    /// `check_dev_cache` — `IOMMU_TEST_OP_DEV_CHECK_CACHE`: check a cache entry of mock
    /// device `id` (its iommufd device ID).
    IOMMU_TEST_OP_DEV_CHECK_CACHE, CheckDevCache:
    pub struct TestCheckDevCache = "check_dev_cache" {
        /// Entry index, at most `MOCK_DEV_CACHE_ID_MAX`.
        pub id: u32,
        /// Expected value.
        pub cache: u32,
    }

    /// `trigger_vevent` — `IOMMU_TEST_OP_TRIGGER_VEVENT`: report a vIOMMU event
    /// (`iommu_viommu_event_selftest`) for a device with a vdevice.
    IOMMU_TEST_OP_TRIGGER_VEVENT, TriggerVevent:
    pub struct TestTriggerVevent = "trigger_vevent" {
        /// The iommufd device ID.
        pub dev_id: u32,
    }

    /// `pasid_attach` — `IOMMU_TEST_OP_PASID_ATTACH`: attach a PASID of selftest device `id`.
    IOMMU_TEST_OP_PASID_ATTACH, PasidAttach: pub struct TestPasidAttach = "pasid_attach" {
        /// The PASID.
        pub pasid: u32,
        /// In: IOAS or HWPT; out: the HWPT attached.
        pub pt_id: u32,
    }

    /// `pasid_replace` — `IOMMU_TEST_OP_PASID_REPLACE`: replace the attachment of a PASID of
    /// selftest device `id`.
    IOMMU_TEST_OP_PASID_REPLACE, PasidReplace: pub struct TestPasidReplace = "pasid_replace" {
        /// The PASID.
        pub pasid: u32,
        /// In: IOAS or HWPT; out: the HWPT attached.
        pub pt_id: u32,
    }

    /// `pasid_detach` — `IOMMU_TEST_OP_PASID_DETACH`: detach a PASID of selftest device `id`.
    IOMMU_TEST_OP_PASID_DETACH, PasidDetach: pub struct TestPasidDetach = "pasid_detach" {
        /// The PASID.
        pub pasid: u32,
    }

    /// `pasid_check` — `IOMMU_TEST_OP_PASID_CHECK_HWPT`: check what a PASID of selftest
    /// device `id` is attached to.
    IOMMU_TEST_OP_PASID_CHECK_HWPT, PasidCheck: pub struct TestPasidCheck = "pasid_check" {
        /// The PASID.
        pub pasid: u32,
        /// Expected HWPT; 0 for none.
        pub hwpt_id: u32,
    }

    /// `dmabuf_get` — `IOMMU_TEST_OP_DMABUF_GET`: create a test dma-buf; returns its fd.
    IOMMU_TEST_OP_DMABUF_GET, DmabufGet: pub struct TestDmabufGet = "dmabuf_get" {
        /// Bytes, rounded up to pages; at most 512 pages.
        pub length: u32,
        /// `open(2)` flags of the fd.
        pub open_flags: u32,
    }

    /// `dmabuf_revoke` — `IOMMU_TEST_OP_DMABUF_REVOKE`: revoke or restore a test dma-buf.
    IOMMU_TEST_OP_DMABUF_REVOKE, DmabufRevoke: pub struct TestDmabufRevoke = "dmabuf_revoke" {
        /// The dma-buf fd (EOPNOTSUPP if not a test dma-buf).
        pub dmabuf_fd: i32,
        /// Non-zero to revoke, 0 to restore.
        pub revoked: u32,
    }
}

const HEADER_FIELDS: [FieldLayout; 4] = [
    field("size", offset_of!(IommuTestCmd, size), 4),
    field("op", offset_of!(IommuTestCmd, op), 4),
    field("id", offset_of!(IommuTestCmd, id), 4),
    field("__reserved", offset_of!(IommuTestCmd, __reserved), 4),
];
const LAST_FIELD: FieldLayout = field("last", offset_of!(IommuTestCmd, last), 4);

const fn field(c_path: &'static str, offset: usize, size: usize) -> FieldLayout {
    FieldLayout {
        c_path,
        offset,
        size,
    }
}

const fn field_count() -> usize {
    let mut n = HEADER_FIELDS.len() + 1;
    let mut i = 0;
    while i < MEMBERS.len() {
        n += 1 + MEMBERS[i].2.len();
        i += 1;
    }
    n
}

const FIELD_COUNT: usize = field_count();

/// Header fields, then each member as a whole followed by its fields (offsets in the
/// command), then `last`.
const ALL_FIELDS: [FieldLayout; FIELD_COUNT] = {
    let mut out = [LAST_FIELD; FIELD_COUNT];
    let mut n = 0;
    while n < HEADER_FIELDS.len() {
        out[n] = HEADER_FIELDS[n];
        n += 1;
    }
    let mut i = 0;
    while i < MEMBERS.len() {
        let (name, size, fields) = MEMBERS[i];
        out[n] = field(name, TEST_CMD_PAYLOAD_OFFSET, size);
        n += 1;
        let mut j = 0;
        while j < fields.len() {
            out[n] = field(
                fields[j].c_path,
                TEST_CMD_PAYLOAD_OFFSET + fields[j].offset,
                fields[j].size,
            );
            n += 1;
            j += 1;
        }
        i += 1;
    }
    // out[n] is LAST_FIELD already.
    out
};

impl CLayout for IommuTestCmd {
    const LAYOUT: StructLayout = StructLayout {
        c_name: "iommu_test_cmd",
        size: size_of::<IommuTestCmd>(),
        fields: &ALL_FIELDS,
    };
}

/// The C layout of `iommu_test_cmd`.
pub const STRUCTS: &[StructLayout] = &[<IommuTestCmd as CLayout>::LAYOUT];

crate::uapi_consts! {
    /// Op: add a reserved IOVA range ([`TestAddReserved`]).
    pub const IOMMU_TEST_OP_ADD_RESERVED: u32 = 1;
    /// Op: create and attach a mock device ([`TestMockDomain`]).
    pub const IOMMU_TEST_OP_MOCK_DOMAIN: u32 = 2;
    /// Op: check a mock domain's mappings ([`TestCheckMap`]).
    pub const IOMMU_TEST_OP_MD_CHECK_MAP: u32 = 3;
    /// Op: check pin counts ([`TestCheckRefs`]).
    pub const IOMMU_TEST_OP_MD_CHECK_REFS: u32 = 4;
    /// Op: create an access ([`TestCreateAccess`]).
    pub const IOMMU_TEST_OP_CREATE_ACCESS: u32 = 5;
    /// Op: unpin access pages ([`TestDestroyAccessPages`]).
    pub const IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: u32 = 6;
    /// Op: pin pages through an access ([`TestAccessPages`]).
    pub const IOMMU_TEST_OP_ACCESS_PAGES: u32 = 7;
    /// Op: read/write through an access ([`TestAccessRw`]).
    pub const IOMMU_TEST_OP_ACCESS_RW: u32 = 8;
    /// Op: set the temporary memory limit ([`TestMemoryLimit`]).
    pub const IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: u32 = 9;
    /// Op: replace a mock device's attachment ([`TestMockDomainReplace`]).
    pub const IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: u32 = 10;
    /// Op: move an access to another IOAS ([`TestAccessReplaceIoas`]).
    pub const IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: u32 = 11;
    /// Op: create a mock device with flags ([`TestMockDomainFlags`]).
    pub const IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: u32 = 12;
    /// Op: set dirty bits ([`TestDirty`]).
    pub const IOMMU_TEST_OP_DIRTY: u32 = 13;
    /// Op: check a nested IOTLB entry ([`TestCheckIotlb`]).
    pub const IOMMU_TEST_OP_MD_CHECK_IOTLB: u32 = 14;
    /// Op: report a page fault ([`TestTriggerIopf`]).
    pub const IOMMU_TEST_OP_TRIGGER_IOPF: u32 = 15;
    /// Op: check a device cache entry ([`TestCheckDevCache`]).
    pub const IOMMU_TEST_OP_DEV_CHECK_CACHE: u32 = 16;
    /// Op: report a vIOMMU event ([`TestTriggerVevent`]).
    pub const IOMMU_TEST_OP_TRIGGER_VEVENT: u32 = 17;
    /// Op: attach a PASID ([`TestPasidAttach`]).
    pub const IOMMU_TEST_OP_PASID_ATTACH: u32 = 18;
    /// Op: replace a PASID attachment ([`TestPasidReplace`]).
    pub const IOMMU_TEST_OP_PASID_REPLACE: u32 = 19;
    /// Op: detach a PASID ([`TestPasidDetach`]).
    pub const IOMMU_TEST_OP_PASID_DETACH: u32 = 20;
    /// Op: check a PASID's HWPT ([`TestPasidCheck`]).
    pub const IOMMU_TEST_OP_PASID_CHECK_HWPT: u32 = 21;
    /// Op: create a test dma-buf ([`TestDmabufGet`]).
    pub const IOMMU_TEST_OP_DMABUF_GET: u32 = 22;
    /// Op: revoke a test dma-buf ([`TestDmabufRevoke`]).
    pub const IOMMU_TEST_OP_DMABUF_REVOKE: u32 = 23;

    /// A PASID the selftests reserve for a special replace test.
    pub const IOMMU_TEST_PASID_RESERVED: u32 = 1024;

    /// `IOMMU_TEST_CMD`: `_IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)`; takes an
    /// [`IommuTestCmd`].
    pub const IOMMU_TEST_CMD: u32 = io(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32);
}

#[cfg(test)]
mod tests;
