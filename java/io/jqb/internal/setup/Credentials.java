package io.jqb.internal.setup;

/** Peer credentials carried by an SCM_CREDENTIALS control message. */
public record Credentials(int pid, int uid, int gid) {
}
