package io.jqb.internal.wire;

/**
 * {@code struct sockaddr_un} as libqb passes it.
 *
 * <pre>
 *  | sun_family u16 (AF_UNIX) | sun_path[108] |   110 bytes
 * </pre>
 *
 * Abstract names: sun_path[0] = 0, then the name, then zeros to the end; addrlen is always the whole 110 bytes, so
 * the kernel name is 108 bytes long. Filesystem names: the path, NUL-terminated; addrlen = 2 + strlen(path).
 */
public final class SockAddrDescriptor {
    public static final int FAMILY_OFFSET = 0;
    public static final int PATH_OFFSET = 2;
    public static final int PATH_LENGTH = 108;
    public static final int LENGTH = 110;
    /** libqb cuts service names longer than this. */
    public static final int MAX_ABSTRACT_NAME = 106;

    private SockAddrDescriptor() {
    }
}
