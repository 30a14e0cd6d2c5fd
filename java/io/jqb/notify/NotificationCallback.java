package io.jqb.notify;

/** Receives notifications; runs on a delivery thread of the {@link Notifications} instance, never the caller's. */
@FunctionalInterface
public interface NotificationCallback {
    /** @param notification what was delivered */
    void onNotification(Notification notification);
}
