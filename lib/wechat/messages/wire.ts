/*
 * Wire shapes of webwxsync / webwxinit / webwxgetcontact entries (docs/protocol.md sections 5 and 7), as the
 * server sends them. Every field is optional here: the normaliser reads them defensively.
 */

export interface RawRecommendInfo {
  UserName?: string;
  NickName?: string;
  QQNum?: number;
  Province?: string;
  City?: string;
  /** The greeting of a friend request. */
  Content?: string;
  Signature?: string;
  Alias?: string;
  Scene?: number;
  VerifyFlag?: number;
  AttrStatus?: number;
  Sex?: number;
  Ticket?: string;
  OpCode?: number;
}

export interface RawAppInfo {
  AppID?: string;
  Type?: number;
}

/** One `AddMsgList` entry. */
export interface RawMessage {
  MsgId: string;
  NewMsgId?: number | string;
  FromUserName: string;
  ToUserName: string;
  MsgType: number;
  Content?: string;
  /** Unix seconds. */
  CreateTime?: number | undefined;
  Status?: number;
  ImgStatus?: number;
  /** Milliseconds. */
  VoiceLength?: number;
  /** Seconds. */
  PlayLength?: number;
  FileName?: string;
  /** A decimal string on the wire. */
  FileSize?: string | number;
  MediaId?: string;
  Url?: string;
  AppMsgType?: number;
  StatusNotifyCode?: number;
  StatusNotifyUserName?: string;
  RecommendInfo?: RawRecommendInfo;
  ForwardFlag?: number;
  AppInfo?: RawAppInfo;
  HasProductId?: number;
  Ticket?: string;
  ImgHeight?: number;
  ImgWidth?: number;
  SubMsgType?: number;
  OriContent?: string;
  EncryFileName?: string;
}

/** A group member in a contact's `MemberList`. */
export interface RawMember {
  UserName?: string;
  NickName?: string;
  /** The member's name in this group. */
  DisplayName?: string;
  AttrStatus?: number;
  Uin?: number;
  MemberStatus?: number;
  KeyWord?: string;
  PYQuanPin?: string;
  RemarkPYQuanPin?: string;
}

/** A contact of webwxinit / webwxgetcontact / webwxbatchgetcontact / ModContactList. */
export interface RawContact {
  UserName?: string;
  NickName?: string;
  RemarkName?: string;
  Alias?: string;
  VerifyFlag?: number;
  ContactFlag?: number;
  Sex?: number;
  Signature?: string;
  Province?: string;
  City?: string;
  StarFriend?: number;
  HeadImgUrl?: string;
  MemberCount?: number;
  MemberList?: RawMember[];
  EncryChatRoomId?: string;
  ChatRoomId?: number;
  OwnerUin?: number;
  IsOwner?: number;
  AttrStatus?: number;
  SnsFlag?: number;
  UniFriend?: number;
  KeyWord?: string;
  PYQuanPin?: string;
  RemarkPYQuanPin?: string;
  DisplayName?: string;
  Statues?: number;
  HideInputBarFlag?: number;
  AppAccountFlag?: number;
  Uin?: number;
}
