/** What `devices list` shows of one enrolled device: its facts, and whether its agent is connected now. */
export interface DeviceStatus {
  deviceId: string;
  hostname: string;
  os: string;
  agentVersion: string;
  online: boolean;
  /** ISO time of the last frame or pong from the agent (or its last audit record); null if never seen. */
  lastSeen: string | null;
  state: "active" | "quarantined";
}

/** Frame types the server sends to an agent. */
export type ServerFrameType = "command" | "cancel" | "close-session";

/**
 * The agents connected to this server, as sessions see them. Frames reach listeners only once validated
 * against the protocol (envelope, sequence, body schema); an agent that breaks the protocol is cut off
 * and never reaches a listener.
 */
export interface DeviceHub {
  isOnline(deviceId: string): boolean;
  /** Sends one frame to the device's live connection; throws ERR_DEVICE_OFFLINE when there is none. */
  send(deviceId: string, type: ServerFrameType, body: Record<string, unknown>): void;
  /** ack, rows and result frames, validated; returns the function that removes the listener. */
  onFrame(listener: (deviceId: string, type: string, body: unknown) => void): () => void;
  onDisconnect(listener: (deviceId: string) => void): () => void;
  list(): DeviceStatus[];
}
