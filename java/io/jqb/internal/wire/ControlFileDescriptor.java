package io.jqb.internal.wire;

/**
 * The SOCKET transport's 24-byte control file {@code <dir>/qb-control-<service>}: one
 * {@code struct ipc_us_control} per channel.
 *
 * <pre>
 *  | request:  sent i32 @0  | flow_control i32 @4  |   flow_control here is the fc flag clients check
 *  | response: sent i32 @8  | flow_control i32 @12 |
 *  | event:    sent i32 @16 | flow_control i32 @20 |   event sent = events queued for the client
 * </pre>
 *
 * {@code sent} is incremented (atomically) by each sender and decremented by each receiver: the queue length.
 */
public final class ControlFileDescriptor {
    public static final int REQUEST = 0;
    public static final int RESPONSE = 8;
    public static final int EVENT = 16;
    public static final int SENT = 0;
    public static final int FLOW_CONTROL = 4;
    public static final int LENGTH = 24;

    private ControlFileDescriptor() {
    }
}
