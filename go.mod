module github.com/livestreams/livestreams

go 1.26.8
