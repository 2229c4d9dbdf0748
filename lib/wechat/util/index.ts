export { parseXml, readXmlTags, escapeXml, xmlPath, xmlText, xmlString, DEFAULT_XML_MAX_BYTES } from "./xml";
export type { ParseXmlOptions } from "./xml";
export { BoundedSet } from "./bounded-set";
export { sanitizeFileName, fileExtension, MAX_FILE_NAME_BYTES } from "./filename";
export { ClientMsgIds, makeClientMsgId, deviceId } from "./ids";
export { sniffMime, sniffImage, mimeFromExtension, extensionFor, OCTET_STREAM } from "./mime";
export { parseScriptVars } from "./script-vars";
export { RecentMessages } from "./recent-messages";
