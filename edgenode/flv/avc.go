package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxDimension bounds decoded picture sizes; H.264 level 6.2 tops out
// near 8192x4320, so anything past this is a corrupt SPS.
const maxDimension = 16384

// SPS is what StreamInfo needs from an H.264 sequence parameter set.
type SPS struct {
	ProfileIDC uint8
	LevelIDC   uint8
	Width      int // after cropping
	Height     int // after cropping
}

// ParseAVCDecoderConfig reads an AVCDecoderConfigurationRecord (the body
// of an FLV AVC sequence header after its 5-byte tag header) and parses
// its first SPS.
func ParseAVCDecoderConfig(rec []byte) (SPS, error) {
	if len(rec) < 6 {
		return SPS{}, fmt.Errorf("flv: AVC decoder configuration of %d bytes is too short", len(rec))
	}
	if rec[0] != 1 {
		return SPS{}, fmt.Errorf("flv: AVC decoder configuration version %d, want 1", rec[0])
	}
	if rec[5]&0x1f == 0 {
		return SPS{}, errors.New("flv: AVC decoder configuration has no SPS")
	}
	p := rec[6:]
	if len(p) < 2 {
		return SPS{}, errors.New("flv: AVC decoder configuration truncated before SPS length")
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return SPS{}, fmt.Errorf("flv: SPS of %d bytes overruns its %d-byte record", n, len(rec))
	}
	return ParseSPS(p[2 : 2+n])
}

// profiles whose SPS carries chroma format and bit depth fields
// (ITU-T H.264 7.3.2.1.1).
func hasChromaInfo(profile uint8) bool {
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// ParseSPS parses an H.264 SPS NAL unit, including its one-byte NAL
// header, and returns the cropped picture size.
func ParseSPS(nal []byte) (SPS, error) {
	if len(nal) < 4 {
		return SPS{}, fmt.Errorf("flv: SPS of %d bytes is too short", len(nal))
	}
	if nal[0]&0x1f != 7 {
		return SPS{}, fmt.Errorf("flv: NAL unit type %d is not an SPS", nal[0]&0x1f)
	}
	sps := SPS{ProfileIDC: nal[1], LevelIDC: nal[3]}
	r := &bitReader{b: unescapeRBSP(nal[4:])}
	if err := parseSPSBody(r, &sps); err != nil {
		return SPS{}, fmt.Errorf("flv: parse SPS: %w", err)
	}
	return sps, nil
}

// spsParse lets parseSPSBody read many fields and check the error once.
type spsParse struct {
	r   *bitReader
	err error
}

func (p *spsParse) ue() uint32 {
	if p.err != nil {
		return 0
	}
	v, err := p.r.ue()
	p.err = err
	return v
}

func (p *spsParse) se() int32 {
	if p.err != nil {
		return 0
	}
	v, err := p.r.se()
	p.err = err
	return v
}

func (p *spsParse) flag() bool {
	if p.err != nil {
		return false
	}
	v, err := p.r.flag()
	p.err = err
	return v
}

func parseSPSBody(r *bitReader, sps *SPS) error {
	p := &spsParse{r: r}
	p.ue() // seq_parameter_set_id
	chromaFormat := uint32(1)
	separatePlanes := false
	if hasChromaInfo(sps.ProfileIDC) {
		chromaFormat = p.ue()
		if chromaFormat > 3 {
			return fmt.Errorf("chroma_format_idc %d", chromaFormat)
		}
		if chromaFormat == 3 {
			separatePlanes = p.flag()
		}
		p.ue()        // bit_depth_luma_minus8
		p.ue()        // bit_depth_chroma_minus8
		p.flag()      // qpprime_y_zero_transform_bypass_flag
		if p.flag() { // seq_scaling_matrix_present_flag
			lists := 8
			if chromaFormat == 3 {
				lists = 12
			}
			for i := range lists {
				if !p.flag() {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				skipScalingList(p, size)
			}
		}
	}
	p.ue() // log2_max_frame_num_minus4
	switch pocType := p.ue(); pocType {
	case 0:
		p.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		p.flag() // delta_pic_order_always_zero_flag
		p.se()   // offset_for_non_ref_pic
		p.se()   // offset_for_top_to_bottom_field
		n := p.ue()
		if n > 255 {
			return fmt.Errorf("num_ref_frames_in_pic_order_cnt_cycle %d", n)
		}
		for range n {
			p.se()
		}
	case 2:
	default:
		if p.err == nil {
			return fmt.Errorf("pic_order_cnt_type %d", pocType)
		}
	}
	p.ue()   // max_num_ref_frames
	p.flag() // gaps_in_frame_num_value_allowed_flag
	widthMBs := uint64(p.ue()) + 1
	heightMapUnits := uint64(p.ue()) + 1
	frameMBsOnly := p.flag()
	if !frameMBsOnly {
		p.flag() // mb_adaptive_frame_field_flag
	}
	p.flag() // direct_8x8_inference_flag
	var cropLeft, cropRight, cropTop, cropBottom uint64
	if p.flag() {
		cropLeft, cropRight = uint64(p.ue()), uint64(p.ue())
		cropTop, cropBottom = uint64(p.ue()), uint64(p.ue())
	}
	if p.err != nil {
		return p.err
	}

	fieldFactor := uint64(1)
	if !frameMBsOnly {
		fieldFactor = 2
	}
	// Crop units, H.264 equations 7-19 to 7-22.
	cropX, cropY := uint64(1), fieldFactor
	if chromaFormat != 0 && !separatePlanes {
		subW, subH := uint64(2), uint64(2) // 4:2:0
		switch chromaFormat {
		case 2:
			subH = 1
		case 3:
			subW, subH = 1, 1
		}
		cropX, cropY = subW, subH*fieldFactor
	}
	width := widthMBs * 16
	height := heightMapUnits * 16 * fieldFactor
	cw, ch := cropX*(cropLeft+cropRight), cropY*(cropTop+cropBottom)
	if width > maxDimension || height > maxDimension || cw >= width || ch >= height {
		return fmt.Errorf("picture %dx%d with crop %dx%d is out of range", width, height, cw, ch)
	}
	sps.Width, sps.Height = int(width-cw), int(height-ch)
	return nil
}

// skipScalingList reads past a scaling_list() (H.264 7.3.2.1.1.1).
func skipScalingList(p *spsParse, size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			next = (last + p.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if p.err != nil {
			return
		}
	}
}
