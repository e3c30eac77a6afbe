// Package captions turns the speech of a recording into timed text: it
// extracts the audio with ffmpeg, cuts long audio into chunks at silences,
// hands each chunk to a speech-to-text Engine, merges the cues in order and
// writes them as WebVTT, whole or segmented for an HLS subtitles rendition.
//
// Two engines sit behind the one Engine interface: OpenAI, any
// OpenAI-compatible transcription endpoint (OpenAI, whisper.cpp's server,
// faster-whisper-server, LocalAI), and Pocketsphinx, the offline engine of
// Debian's pocketsphinx and pocketsphinx-en-us packages for operators who
// run no Whisper server.
//
// It deliberately does not know about jobs, leases, assets or object
// storage: the media job runner calls a Transcriber, reports the progress
// it gets from it and stores the files it writes. It does not translate,
// identify speakers or detect the language: the caller says which language
// the speech is in.
package captions
