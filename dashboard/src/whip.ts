// Go live from the browser: a camera/microphone or a screen, sent over
// WHIP to the control plane's same-origin proxy (POST
// /v1/streams/{id}/whip with the session's token), which adds the stream
// key and relays to the nearest edge; the key never reaches the page.
import { headers } from "./api";

export interface Capture { source: "camera" | "screen"; height: number; bitrate: number }

export const resolutions = [1080, 720, 480, 360];
export const bitrates = [6000, 4500, 2500, 1200, 800];

// capture opens the chosen source at about the chosen height (16:9).
export async function capture(c: Capture): Promise<MediaStream> {
  const video = { width: { ideal: Math.round((c.height * 16) / 9) }, height: { ideal: c.height }, frameRate: { ideal: 30 } };
  if (c.source === "screen") {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video, audio: true });
    if (screen.getAudioTracks().length === 0) {
      // Most screens share no sound: add the microphone when there is one.
      try {
        const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
        mic.getAudioTracks().forEach((t) => screen.addTrack(t));
      } catch { /* silent screen */ }
    }
    return screen;
  }
  return navigator.mediaDevices.getUserMedia({ video, audio: true });
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Publication { pc: RTCPeerConnection; location: string; stop(): Promise<void> }

// publish sends media to the stream: H.264 and Opus, send only, and
// resolves once the peer connection is up.
export async function publish(streamID: string, media: MediaStream, bitrateKbps: number): Promise<Publication> {
  const pc = new RTCPeerConnection();
  const [vt] = media.getVideoTracks();
  const [at] = media.getAudioTracks();
  if (!vt) throw new Error("no video track to send");
  const video = pc.addTransceiver(vt, { direction: "sendonly", streams: [media] });
  const h264 = (RTCRtpSender.getCapabilities("video")?.codecs ?? []).filter((c) => c.mimeType === "video/H264");
  if (h264.length === 0) throw new Error("this browser cannot send H.264 over WebRTC");
  // Packetization mode 1 first: what every WHIP server takes.
  h264.sort((a, b) => Number((b.sdpFmtpLine ?? "").includes("packetization-mode=1")) - Number((a.sdpFmtpLine ?? "").includes("packetization-mode=1")));
  video.setCodecPreferences(h264);
  if (at) {
    const audio = pc.addTransceiver(at, { direction: "sendonly", streams: [media] });
    const opus = (RTCRtpSender.getCapabilities("audio")?.codecs ?? []).filter((c) => c.mimeType === "audio/opus");
    if (opus.length) audio.setCodecPreferences(opus);
  }
  const params = video.sender.getParameters();
  params.degradationPreference = "maintain-resolution";
  if (!params.encodings?.length) params.encodings = [{}];
  params.encodings[0].maxBitrate = bitrateKbps * 1000;
  await video.sender.setParameters(params).catch(() => undefined);
  await pc.setLocalDescription(await pc.createOffer());
  // WHIP without trickle: the offer carries the candidates.
  await until("ICE gathering", () => pc.iceGatheringState === "complete", 5000).catch(() => undefined);
  const resp = await fetch(`/v1/streams/${encodeURIComponent(streamID)}/whip`, {
    method: "POST", body: pc.localDescription!.sdp,
    headers: headers({ "Content-Type": "application/sdp", Accept: "application/sdp" }),
  });
  const answer = await resp.text();
  if (resp.status !== 201) {
    pc.close();
    let msg = answer;
    try { msg = JSON.parse(answer).error.message; } catch { /* plain text */ }
    throw new Error(`the edge refused to go live (${resp.status}): ${msg}`);
  }
  const location = resp.headers.get("Location") ?? "";
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  try {
    await until("the connection to the edge", () => pc.connectionState === "connected", 20000);
  } catch (e) {
    pc.close();
    throw e;
  }
  return {
    pc, location,
    stop: async () => {
      // DELETE first: the session ends as unpublished, not as a lost
      // connection.
      if (location) await fetch(location, { method: "DELETE", headers: headers() }).catch(() => undefined);
      pc.close();
      media.getTracks().forEach((t) => t.stop());
    },
  };
}
