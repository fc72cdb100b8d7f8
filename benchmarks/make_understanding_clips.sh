#!/usr/bin/env bash
# Rebuild benchmarks/understanding_clips/ (the extra real clips of the understanding benchmark).
# Needs: apt-get install espeak-ng sox ffmpeg, and the Debian packages lmms-common,
# sound-theme-freedesktop and sound-icons unpacked (not installed) under $SRC:
#   apt-get download lmms-common sound-theme-freedesktop sound-icons
#   for f in *.deb; do dpkg-deb -x "$f" "$SRC"; done
# (LMMS files in WAV-wrapped Vorbis, e.g. harpsichord01, scratch01, wind_chimes01, do not decode with ffmpeg: skipped.)
# Every clip: mono, 16 kHz, Ogg Vorbis (q 3), at most 6 s. Credits: understanding_clips/ATTRIBUTION.md.
set -euo pipefail
SRC=${SRC:-/tmp/deb13/x}
OUT=${OUT:-$(dirname "$0")/understanding_clips}
L=$SRC/usr/share/lmms/samples
FD=$SRC/usr/share/sounds/freedesktop/stereo
SI=$SRC/usr/share/sounds/sound-icons
mkdir -p "$OUT"

conv() {  # conv <source> <name> [max seconds]
  ffmpeg -v error -y -i "$1" -t "${3:-6}" -ac 1 -ar 16000 -c:a libvorbis -q:a 3 "$OUT/$2.ogg"
}

# drum and percussion one-shots (LMMS, GPL-2+)
for f in bassdrum01 kick_hard01 kick_soft01 kick_hiphop01 snare01 snare_acoustic01 \
         clap01 crash01 hihat_closed01 hihat_opened01 ride01 tom01 rim01; do conv "$L/drums/$f.ogg" "drum_$f"; done
# synth one-shots and pads
for f in bass_acid01 rave_bass01 synth_acid01 techno_synth01 horror_bass01 matrix1000_pluck01; do
  conv "$L/basses/$f.ogg" "synth_$f"; done
conv "$L/stringsnpads/juno_pad01.ogg" synth_juno_pad01
conv "$L/stringsnpads/korg_poly6_drone01.ogg" synth_korg_poly6_drone01
# single notes and short phrases of acoustic instruments
for f in piano01 cello01 church_organ01 flute01 trumpet01 violin_pizzicato01 steel_guitar01 bassslap01; do
  conv "$L/instruments/$f.ogg" "instrument_$f" 5; done
conv "$SI/xylofon.wav" instrument_xylophone
conv "$SI/guitar-12.wav" instrument_guitar12
# bells and chimes
conv "$L/misc/dong01.ogg" bell_dong01
conv "$L/stringsnpads/bell_choir01.ogg" bell_choir01 5
conv "$FD/bell.oga" bell_desktop
# short drum and bass loops
for f in 909beat01 break01 house_loop01; do conv "$L/beats/$f.ogg" "loop_$f"; done
conv "$L/bassloops/tb303_01.ogg" loop_tb303_01
# sound effects
for f in explode01 filter_sweep01 warp01 start01; do conv "$L/effects/$f.ogg" "sfx_$f"; done
for f in applause01 raving_crowd01 breath01 metronome01; do conv "$L/misc/$f.ogg" "sfx_$f"; done
for f in alarm-clock-elapsed phone-incoming-call camera-shutter; do conv "$FD/$f.oga" "sfx_$f"; done
conv "$SI/canary-long.wav" sfx_canary
conv "$SI/glass-water-1.wav" sfx_glass_water
conv "$SI/cockchafer-gentleman-1.wav" sfx_cockchafer

# speech synthesised with espeak-ng (GPL-3+); the texts are ours
say() {  # say <name> <voice> <text>
  espeak-ng -v "$2" -s 150 -w /tmp/say.wav "$3"
  ffmpeg -v error -y -i /tmp/say.wav -t 6 -ac 1 -ar 16000 -c:a libvorbis -q:a 3 "$OUT/$1.ogg"
}
say speech_weather en-gb "Tomorrow will be cloudy in the north with light rain spreading from the west by the afternoon."
say speech_news en-us "The city council met on Tuesday to discuss the new budget for schools and public transport."
say speech_recipe en-gb-x-rp "Add two cups of flour, a pinch of salt and stir the mixture slowly until it is smooth."
say speech_story en-us+f3 "Once upon a time, a little fox lived at the edge of a quiet forest with her brothers."
say speech_instructions en-gb-scotland "Press the green button to start the machine, then wait until the light turns off."
say speech_lecture en-us+m3 "In today's lecture we will look at how plants turn sunlight into energy through photosynthesis."

# controls: silence, noise, a pure tone, a click (generated with sox)
sox -n -r 16000 -c 1 "$OUT/control_silence.ogg" trim 0 4
sox -n -r 16000 -c 1 "$OUT/control_white_noise.ogg" synth 4 whitenoise vol 0.3
sox -n -r 16000 -c 1 "$OUT/control_pink_noise.ogg" synth 4 pinknoise vol 0.3
sox -n -r 16000 -c 1 "$OUT/control_brown_noise.ogg" synth 4 brownnoise vol 0.3
sox -n -r 16000 -c 1 "$OUT/control_sine_440.ogg" synth 3 sine 440 vol 0.3
sox -n -r 16000 -c 1 "$OUT/control_hum_50hz.ogg" synth 4 sine 50 sine 100 vol 0.2

# silent slow-pan photo videos: sample_data videos with the sound removed, 6 s, 320 px wide
for f in mountain_lakes winter_forest coast_waves cat_portrait city_night; do
  ffmpeg -v error -y -i "$(dirname "$0")/../sample_data/video/$f.mp4" -t 6 -an -vf scale=320:-2 -r 12 \
    -c:v libx264 -crf 32 -preset veryslow -pix_fmt yuv420p "$OUT/silent_$f.mp4"
done
du -sh "$OUT"
