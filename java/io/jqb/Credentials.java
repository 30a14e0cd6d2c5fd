package io.jqb;

/**
 * A peer's process credentials as the kernel reported them with SCM_CREDENTIALS.
 *
 * @param pid process id
 * @param uid user id
 * @param gid group id
 */
public record Credentials(int pid, int uid, int gid) {
}
