// Who has read how far in a conversation: seeded from the conversation's `read_markers`,
// moved by `read` events, and turned into the status line under my latest message.

const NAMES_SHOWN = 3;

export class ReadMarkers {
  constructor(conversation, me) {
    this.me = me;
    this.members = conversation.members.filter((m) => m.id !== me.id);
    this.upTo = new Map((conversation.read_markers || []).map((r) => [r.user_id, r.last_read_message_id]));
  }

  // The conversation's `read_markers` as fetched again (after a reconnect): `read` events sent
  // while this page had no connection never arrive, so only a fresh copy brings those moves.
  // Returns whether anything changed.
  merge(readMarkers) {
    let changed = false;
    for (const { user_id: userId, last_read_message_id: messageId } of readMarkers || []) {
      changed = this.move(userId, messageId) || changed;
    }
    return changed;
  }

  // Returns whether anything changed.
  move(userId, messageId) {
    if (userId === this.me.id || messageId <= (this.upTo.get(userId) || 0)) return false;
    this.upTo.set(userId, messageId);
    return true;
  }

  // "Sent", "Seen" (1:1), or in a group "Seen by bob, carol" / "Seen by 5".
  label(messageId, kind) {
    const readers = this.members.filter((m) => (this.upTo.get(m.id) || 0) >= messageId);
    if (!readers.length) return { text: "Sent", seen: false };
    if (kind !== "group") return { text: "Seen", seen: true };
    const who = readers.length > NAMES_SHOWN ? String(readers.length) : readers.map((m) => m.username).join(", ");
    return { text: `Seen by ${who}`, seen: true };
  }
}
