#!/bin/sh
# Regenerates the media clips that synthetic participants loop: a VP8 test
# pattern in the three simulcast sizes (q/h/f) and a tonal Opus track whose
# bursts and pauses sound like speech turns. Needs ffmpeg with libvpx and
# libopus. Run from this directory; the output is committed.
set -eu
for layer in "q 320x180 100k" "h 640x360 400k" "f 1280x720 1000k"; do
	set -- $layer
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "testsrc2=size=$2:rate=30:duration=3" \
		-c:v libvpx -b:v "$3" -minrate "$3" -maxrate "$3" -bufsize "$3" \
		-g 30 -keyint_min 30 -auto-alt-ref 0 -lag-in-frames 0 \
		-deadline good -cpu-used 4 -error-resilient 1 \
		-f ivf "video-$1.ivf"
done
# A 330 Hz tone with a 3 Hz syllable envelope, on for 0.8 s of every 1.5 s.
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "aevalsrc=0.5*sin(2*PI*330*t)*(0.6+0.4*sin(2*PI*3*t))*lt(mod(t\,1.5)\,0.8):s=48000:c=mono:d=3" \
	-c:a libopus -b:a 32k -frame_duration 20 -application voip \
	-page_duration 20000 \
	-f ogg audio.ogg
