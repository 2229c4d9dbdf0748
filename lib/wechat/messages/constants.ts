/**
 * The numbers of the wire, named once (docs/protocol.md sections 3, 5 and 6). Every module of the library, the
 * nodes and the tests import them from here (or from lib/wechat/index.ts); no number is written twice.
 */

/** Raw MsgType values (docs/protocol.md section 5). */
export const MsgType = {
  TEXT: 1,
  IMAGE: 3,
  VOICE: 34,
  FRIEND_REQUEST: 37,
  POSSIBLE_FRIEND: 40,
  CARD: 42,
  VIDEO: 43,
  STICKER: 47,
  LOCATION: 48,
  APP: 49,
  VOIP_MSG: 50,
  STATUS_NOTIFY: 51,
  VOIP_NOTIFY: 52,
  VOIP_INVITE: 53,
  SHORT_VIDEO: 62,
  SYS_NOTICE: 9999,
  SYSTEM: 10000,
  RECALL: 10002,
} as const;

/** AppMsgType values of MsgType 49. */
export const AppMsgType = {
  MUSIC: 3,
  VIDEO_LINK: 4,
  LINK: 5,
  FILE: 6,
  STICKER: 8,
  LIVE_LOCATION: 17,
  CHAT_HISTORY: 19,
  MINI_PROGRAM: 33,
  MINI_PROGRAM_2: 36,
  REPLY: 57,
  FILE_UPLOADING: 74,
  TRANSFER: 2000,
  RED_PACKET: 2001,
} as const;

/** The `Code` of webwxstatusnotify, and the `StatusNotifyCode` of a MsgType 51 message (docs/protocol.md section 3). */
export const StatusNotifyCode = {
  /** The chat was read (wx-action "mark read"). */
  READ: 1,
  ENTER_CHAT: 2,
  /** Sent once after login (webwxinit). */
  INITED: 3,
  /** From the server: StatusNotifyUserName lists the recent chats (unsaved groups among them). */
  SYNC_CONVERSATIONS: 4,
  QUIT_CHAT: 5,
} as const;

export type MsgTypeValue = (typeof MsgType)[keyof typeof MsgType];
export type AppMsgTypeValue = (typeof AppMsgType)[keyof typeof AppMsgType];
