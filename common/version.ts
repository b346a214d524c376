/**
 * The version we report and write into access files. It follows the HyperQueue release we are
 * compatible with, so tools that check `hq --version` accept us; the transport's own protocol
 * version (common/protocol.ts) keeps us from ever talking to a real HyperQueue server.
 */
export const HQ_VERSION = "v0.26.2";
