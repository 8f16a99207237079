using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PeftHost.Core.IO;

/// <summary>
/// The few POSIX file calls .NET has no API for: opening without following a final link
/// (<c>O_NOFOLLOW</c>), advisory locks (<c>flock</c>), a file's type without opening it
/// (<c>statx</c>), hard links, swapping two folders in one step (<c>renameat2</c> with
/// <c>RENAME_EXCHANGE</c>) and reserving disk space before a write (<c>fallocate</c>). Linux only;
/// the flag values differ between x64 and arm64.
/// </summary>
internal static class PosixFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int StatxModeOffset = 28; // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, uid, gid, then u16 mode
    private const int RenameExchange = 2;
    private const int LockExclusive = 2, LockNonBlocking = 4;
    private const int ErrnoWouldBlock = 11, ErrnoNotSupported = 95, ErrnoNoSys = 38, ErrnoInvalid = 22, ErrnoNoSpace = 28;
    private const int FallocKeepSize = 1;

    private const int OpenWriteOnly = 0x1, OpenReadWrite = 0x2, OpenCreate = 0x40, OpenAppend = 0x400, OpenCloseOnExec = 0x80000;
    private static readonly int OpenNoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x8000 : 0x20000;

    /// <summary>What kind of entry a path names (the entry itself: a final link is not followed).</summary>
    public enum Kind { Missing, Regular, Directory, SymbolicLink, Fifo, CharacterDevice, BlockDevice, Socket }

    /// <summary>The kind of <paramref name="path"/>'s entry; links are reported, not followed, when <paramref name="followLinks"/> is false.</summary>
    public static Kind KindOf(string path, bool followLinks)
    {
        var buffer = new byte[256];
        if (statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType, buffer) != 0) return Kind.Missing;
        int mode = BitConverter.ToUInt16(buffer, StatxModeOffset) & 0xF000;
        return mode switch
        {
            0x8000 => Kind.Regular,
            0x4000 => Kind.Directory,
            0xA000 => Kind.SymbolicLink,
            0x1000 => Kind.Fifo,
            0x2000 => Kind.CharacterDevice,
            0x6000 => Kind.BlockDevice,
            _ => Kind.Socket,
        };
    }

    /// <summary>Opens <paramref name="path"/> for appending (created when missing), refusing a final symbolic link (ELOOP).</summary>
    public static FileStream OpenAppendNoFollow(string path)
    {
        int fd = open(path, OpenWriteOnly | OpenAppend | OpenCreate | OpenNoFollow | OpenCloseOnExec, Convert.ToInt32("644", 8));
        if (fd < 0) throw Error(path);
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    /// <summary>Opens (creating) <paramref name="path"/> for reading and writing, refusing a final symbolic link.</summary>
    public static FileStream OpenReadWriteNoFollow(string path)
    {
        int fd = open(path, OpenReadWrite | OpenCreate | OpenNoFollow | OpenCloseOnExec, Convert.ToInt32("644", 8));
        if (fd < 0) throw Error(path);
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
    }

    /// <summary>Takes an exclusive advisory lock without waiting; false when another open file holds it.</summary>
    public static bool TryLockExclusive(FileStream file, string path)
    {
        if (flock(file.SafeFileHandle, LockExclusive | LockNonBlocking) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ErrnoWouldBlock) return false;
        throw Error(path, errno);
    }

    /// <summary>Swaps two existing entries in one step; false where the file system cannot (then nothing changed).</summary>
    public static bool TryExchange(string a, string b)
    {
        if (renameat2(AtFdCwd, a, AtFdCwd, b, RenameExchange) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is ErrnoInvalid or ErrnoNotSupported or ErrnoNoSys) return false;
        throw Error(b, errno);
    }

    /// <summary>What <see cref="TryReserve"/> found.</summary>
    public enum Reservation { Reserved, NoSpace, Unsupported }

    /// <summary>
    /// Allocates the disk blocks of <paramref name="length"/> bytes from <paramref name="offset"/>
    /// without changing the file's size (<c>fallocate</c>, <c>FALLOC_FL_KEEP_SIZE</c>), so that a
    /// write there cannot fail for space: on a full disk it is refused before any byte lands.
    /// </summary>
    public static Reservation TryReserve(FileStream file, long offset, long length)
    {
        if (!OperatingSystem.IsLinux()) return Reservation.Unsupported;
        if (fallocate(file.SafeFileHandle, FallocKeepSize, offset, length) == 0) return Reservation.Reserved;
        int errno = Marshal.GetLastPInvokeError();
        return errno == ErrnoNoSpace ? Reservation.NoSpace : Reservation.Unsupported;
    }

    /// <summary>Makes <paramref name="newPath"/> a second name of <paramref name="existing"/> (a link itself is linked, not followed).</summary>
    public static bool TryHardLink(string existing, string newPath) => link(existing, newPath) == 0;

    private static IOException Error(string path) => Error(path, Marshal.GetLastPInvokeError());

    private static IOException Error(string path, int errno) => new($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int flock(SafeFileHandle fd, int operation);

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", SetLastError = true)]
    private static extern int renameat2(int olddirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldpath, int newdirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string newpath, uint flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fallocate(SafeFileHandle fd, int mode, long offset, long len);

    [DllImport("libc", SetLastError = true)]
    private static extern int link([MarshalAs(UnmanagedType.LPUTF8Str)] string oldpath, [MarshalAs(UnmanagedType.LPUTF8Str)] string newpath);
}
