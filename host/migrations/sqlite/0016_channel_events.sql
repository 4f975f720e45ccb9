-- What a notification channel carries (issue 9): `alerts`, `incidents`, `maintenance`, stored
-- comma-separated in that order (`store::ChannelEvents`). Channels made before this carry alerts
-- only, as they did. Same column as the other backend's twin.
ALTER TABLE notification_channels ADD COLUMN events TEXT NOT NULL DEFAULT 'alerts';
