package io.jqb.notify.internal;

/**
 * The link between brokers: jqb stream-layer frames ({@code io.jqb.stream.Ipc#writeMessage}, docs/STREAM-PROTOCOL.md)
 * over TCP, each carrying one notification.
 *
 * <pre>
 * | prefix u32 BE = 0x4A514E31 "JQN1" @0 | msgId u32 BE = 1 (NOTE) @4 | length u32 BE @8 | NOTE body @12 |
 * </pre>
 * The NOTE body is the little-endian layout of {@link NotifyMessageDescriptor} (regId 0). A frame with another
 * prefix, longer than {@link NotifyMessageDescriptor#MAX_NOTE} or malformed closes the link.
 */
public final class PeerFrameDescriptor {
    /** Frame prefix of the notification link. */
    public static final int PREFIX = 0x4A514E31;
    /** Message id of a notification. */
    public static final int MSG_NOTE = 1;

    private PeerFrameDescriptor() {
    }
}
