package kubelet

import (
	"errors"
	"fmt"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/kubelet/events"
	"k8s.io/utils/ptr"
)

// Image garbage collection (pkg/kubelet/images/image_gc_manager.go; kubelet.go,
// StartGarbageCollection): every 5 minutes, images unused for longer than imageMaximumGCAge go,
// then, when the image filesystem is at or above imageGCHighThresholdPercent, the least recently
// used images that are unused, unpinned and older than imageMinimumGCAge go until usage is down to
// imageGCLowThresholdPercent.

const imageGCPeriod = 5 * time.Minute

// imageRecord is what the image GC manager remembers about an image.
type imageRecord struct {
	firstDetected time.Time
	lastUsed      time.Time
	size          int64
	pinned        bool
}

type imageGC struct {
	records    map[string]*imageRecord // by image ID
	began      time.Time
	prevFailed bool
	tick       *timer // garbageCollectImages' timer

	// inUse is the set of images the pods' containers use, made when ctrsRev (which counts
	// changes to the pods' containers) was inUseRev.
	inUse             map[string]bool
	ctrsRev, inUseRev uint64
}

// startImageGC schedules image GC unless it is off (high threshold 100 and no maximum age).
func (k *Kubelet) startImageGC() {
	k.gc = imageGC{records: map[string]*imageRecord{}, began: k.now}
	if ptr.Deref(k.cfg.ImageGCHighThresholdPercent, 85) == 100 && k.cfg.ImageMaximumGCAge.Duration == 0 {
		return
	}
	k.gc.tick = k.at(k.now, k.garbageCollectImages)
}

// garbageCollectImages is one run of GarbageCollect and its failure accounting.
func (k *Kubelet) garbageCollectImages() {
	k.rearm(k.gc.tick, k.now.Add(imageGCPeriod))
	freeTime := k.now
	done := func(err error) {
		if err == nil {
			k.gc.prevFailed = false
			return
		}
		if k.gc.prevFailed {
			k.event(k.nodeRef(), v1.EventTypeWarning, events.ImageGCFailed, err.Error())
		}
		k.gc.prevFailed = true
	}
	k.call(ListImagesOp{OpBase: k.nextID()}, func(r OpResult) {
		if r.Err != nil {
			done(r.Err)
			return
		}
		order := k.imagesInEvictionOrder(r.Images, freeTime)
		order, err := k.freeOldImages(order, freeTime)
		if err != nil {
			done(err)
			return
		}
		k.call(ImageFsInfoOp{OpBase: k.nextID()}, func(fs OpResult) {
			if fs.Err != nil {
				done(fs.Err)
				return
			}
			done(k.freeForThreshold(order, freeTime, fs.FsCapacity, fs.FsCapacity-fs.FsUsed))
		})
	})
}

type evictionInfo struct {
	id string
	imageRecord
}

// imagesInEvictionOrder is detectImages followed by the eviction order: images no container
// uses, unpinned, least recently used first, then first detected.
func (k *Kubelet) imagesInEvictionOrder(images []Image, now time.Time) []evictionInfo {
	inUse := k.imagesInUse()
	current := map[string]bool{}
	for _, img := range images {
		current[img.ID] = true
		rec := k.gc.records[img.ID]
		if rec == nil {
			rec = &imageRecord{firstDetected: now}
			k.gc.records[img.ID] = rec
		}
		if inUse[img.ID] {
			rec.lastUsed = now
		}
		rec.size, rec.pinned = img.Size, img.Pinned
	}
	var out []evictionInfo
	for id, rec := range k.gc.records {
		switch {
		case !current[id]:
			delete(k.gc.records, id)
		case !inUse[id] && !rec.pinned:
			out = append(out, evictionInfo{id: id, imageRecord: *rec})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.lastUsed.Equal(b.lastUsed) {
			return a.lastUsed.Before(b.lastUsed)
		}
		if !a.firstDetected.Equal(b.firstDetected) {
			return a.firstDetected.Before(b.firstDetected)
		}
		return a.id < b.id // upstream's order is a map's here; ours must be deterministic
	})
	return out
}

// imagesInUse is the set of images used by the pods' containers, running or not.
func (k *Kubelet) imagesInUse() map[string]bool {
	if k.gc.inUse != nil && k.gc.inUseRev == k.gc.ctrsRev {
		return k.gc.inUse
	}
	inUse := map[string]bool{}
	for _, uid := range k.podOrder {
		for _, c := range k.pods[uid].ctrs {
			inUse[c.imageID] = true
		}
	}
	k.gc.inUse, k.gc.inUseRev = inUse, k.gc.ctrsRev
	return inUse
}

// freeOldImages removes images unused for longer than imageMaximumGCAge, once the kubelet has
// been up that long.
func (k *Kubelet) freeOldImages(images []evictionInfo, now time.Time) ([]evictionInfo, error) {
	maxAge := k.cfg.ImageMaximumGCAge.Duration
	if maxAge == 0 || now.Sub(k.gc.began) <= maxAge {
		return images, nil
	}
	var left []evictionInfo
	for _, img := range images {
		if now.Sub(img.lastUsed) > maxAge {
			k.freeImage(img.id)
			continue
		}
		left = append(left, img)
	}
	return left, nil
}

// freeForThreshold frees space when the image filesystem is at or above the high threshold.
func (k *Kubelet) freeForThreshold(images []evictionInfo, now time.Time, capacity, available int64) error {
	if available > capacity {
		available = capacity
	}
	if capacity == 0 {
		err := errors.New("invalid capacity 0 on image filesystem")
		k.event(k.nodeRef(), v1.EventTypeWarning, events.InvalidDiskCapacity, err.Error())
		return err
	}
	high, low := int(ptr.Deref(k.cfg.ImageGCHighThresholdPercent, 85)), int64(ptr.Deref(k.cfg.ImageGCLowThresholdPercent, 80))
	usage := 100 - int(available*100/capacity)
	if usage < high {
		return nil
	}
	toFree := capacity*(100-low)/100 - available
	var freed int64
	for _, img := range images {
		if !img.lastUsed.Before(now) || now.Sub(img.firstDetected) < k.cfg.ImageMinimumGCAge.Duration {
			continue
		}
		k.freeImage(img.id)
		freed += img.size
		if freed >= toFree {
			break
		}
	}
	if freed < toFree {
		msg := fmt.Sprintf("Insufficient free disk space on the node's image filesystem (%d%% of %s used). "+
			"Failed to free sufficient space by deleting unused images (freed %d bytes). "+
			"Investigate disk usage, as it could be used by active images, logs, volumes, or other data.",
			usage, formatSize(capacity), freed)
		k.event(k.nodeRef(), v1.EventTypeWarning, events.FreeDiskSpaceFailed, msg)
		return errors.New(msg)
	}
	return nil
}

func (k *Kubelet) freeImage(id string) {
	k.call(RemoveImageOp{OpBase: k.nextID(), ImageRef: id}, nil)
	delete(k.gc.records, id)
	delete(k.pulled, id)
}

// formatSize is the image GC manager's size format.
func formatSize(n int64) string {
	const (
		kib = 1024
		mib = 1024 * kib
		gib = 1024 * mib
		tib = 1024 * gib
	)
	size := float64(n)
	switch {
	case size < kib:
		return fmt.Sprintf("%d B", n)
	case size < mib:
		return fmt.Sprintf("%.1f KiB", size/kib)
	case size < gib:
		return fmt.Sprintf("%.1f MiB", size/mib)
	case size < tib:
		return fmt.Sprintf("%.1f GiB", size/gib)
	default:
		return fmt.Sprintf("%.1f TiB", size/tib)
	}
}
