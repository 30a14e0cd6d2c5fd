package io.jqb.internal.wire;

/**
 * x86-64 {@code struct msghdr}, {@code struct iovec}, {@code struct cmsghdr} and {@code struct ucred}: what
 * sendmsg/recvmsg with SCM_CREDENTIALS need.
 *
 * <pre>
 *  msghdr (56): name @0 | namelen u32 @8 | iov @16 | iovlen u64 @24 | control @32 | controllen u64 @40 | flags @48
 *  iovec  (16): base @0 | len u64 @8
 *  cmsghdr(16): len u64 @0 | level i32 @8 | type i32 @12 | data @16
 *  ucred  (12): pid i32 @0 | uid u32 @4 | gid u32 @8      CMSG_SPACE(12) = 32
 * </pre>
 */
public final class MsgHdrDescriptor {
    public static final int MSG_NAME = 0;
    public static final int MSG_NAMELEN = 8;
    public static final int MSG_IOV = 16;
    public static final int MSG_IOVLEN = 24;
    public static final int MSG_CONTROL = 32;
    public static final int MSG_CONTROLLEN = 40;
    public static final int MSG_FLAGS = 48;
    public static final int MSGHDR_LENGTH = 56;

    public static final int IOV_BASE = 0;
    public static final int IOV_LEN = 8;
    public static final int IOVEC_LENGTH = 16;

    public static final int CMSG_LEN_OFFSET = 0;
    public static final int CMSG_LEVEL = 8;
    public static final int CMSG_TYPE = 12;
    public static final int CMSG_DATA = 16;
    /** CMSG_LEN(sizeof(struct ucred)). */
    public static final int CMSG_UCRED_LEN = 28;
    /** CMSG_SPACE(sizeof(struct ucred)). */
    public static final int CMSG_UCRED_SPACE = 32;

    public static final int UCRED_PID = 0;
    public static final int UCRED_UID = 4;
    public static final int UCRED_GID = 8;

    /** struct epoll_event is packed on x86-64: events u32 @0, data u64 @4. */
    public static final int EPOLL_EVENT_EVENTS = 0;
    public static final int EPOLL_EVENT_DATA = 4;
    public static final int EPOLL_EVENT_LENGTH = 12;

    private MsgHdrDescriptor() {
    }
}
