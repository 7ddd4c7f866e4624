#!/usr/bin/env Rscript
## edgeR / DESeq2 reference outputs on the cervical miRNA counts (tests/data/edger/).
## Tests: tests/radiogenomics/test_counts.py, test_size_factors.py, test_dispersion_classic.py,
## test_de.py.
##
## Run from anywhere:   Rscript tests/data/edger/make_reference.R [OUTDIR] [--no-deseq2]
## OUTDIR defaults to this folder (overwrites the CSVs); give a scratch folder to compare.
## Made with R 4.2.2, edgeR 3.40.2, limma 3.54.1, DESeq2 1.38.3, locfit 1.5.9.7 (Debian:
## apt-get install r-base-core r-bioc-edger r-bioc-limma r-bioc-deseq2). Without DESeq2 pass
## --no-deseq2: the deseq2_* columns and params are then missing.
##
## 1. all 58 samples: reference_edger.R (this folder; a copy of shared/reference/scripts/
##    reference_edger.R) on data/cervical, group = class (normal/tumor): keeps
##    samples_normfactors.csv, params.csv, genes_dispersion.csv, de_exact_classic.csv.
## 2. split_A/, split_B/: the two fixed 40/18 splits of shared/reference/scripts/cervical.R
##    (seeds 2128 and 7) and its classic edgeR pipeline on the training samples
##    (calcNormFactors TMM, estimateCommonDisp, estimateTagwiseDisp, exactTest N vs T).
args <- commandArgs(trailingOnly = TRUE)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
HERE <- dirname(normalizePath(self))
ROOT <- normalizePath(file.path(HERE, "..", "..", ".."))
no_deseq2 <- "--no-deseq2" %in% args
args <- args[args != "--no-deseq2"]
OUT <- if (length(args) >= 1) args[1] else HERE
dir.create(OUT, recursive = TRUE, showWarnings = FALSE)
suppressPackageStartupMessages(library(edgeR))

## ---- 1. full data -------------------------------------------------------------------
tmp <- tempfile("edger_full_")
rscript <- file.path(R.home("bin"), "Rscript")
st <- system2(rscript, c(file.path(HERE, "reference_edger.R"),
                         file.path(ROOT, "data/cervical/counts.csv.gz"),
                         file.path(ROOT, "data/cervical/samples.csv"), tmp, "class",
                         if (no_deseq2) "--no-deseq2"))
if (st != 0) stop("reference_edger.R failed")
for (f in c("samples_normfactors.csv", "params.csv", "genes_dispersion.csv", "de_exact_classic.csv"))
  file.copy(file.path(tmp, f), file.path(OUT, f), overwrite = TRUE)

## ---- 2. the two training splits (cervical.R, edgeR part) ------------------------------
cnt <- read.csv(file.path(ROOT, "data/cervical/counts.csv.gz"), row.names = 1, check.names = FALSE)
counts <- as.matrix(cnt)
storage.mode(counts) <- "double"
labels <- factor(rep(c("N", "T"), c(29, 29)), levels = c("N", "T"))
names(labels) <- colnames(counts)
stopifnot(identical(substr(colnames(counts), 1, 1), as.character(labels)))

## Stratified 70/30 split: within each class (29 samples) draw ceiling(0.3*29)=9 test samples
## with sample(), class N first then class T.
make_split <- function(seed) {
  set.seed(seed)
  te <- c(sample(which(labels == "N"), ceiling(0.3 * 29)),
          sample(which(labels == "T"), ceiling(0.3 * 29)))
  te <- sort(te)
  tr <- setdiff(seq_along(labels), te)
  list(train = colnames(counts)[tr], test = colnames(counts)[te])
}

run_split <- function(name, seed) {
  sp <- make_split(seed)
  sd0 <- file.path(OUT, paste0("split_", name)); dir.create(sd0, showWarnings = FALSE)
  write.csv(rbind(data.frame(sample = sp$train, set = "train", label = as.character(labels[sp$train])),
                  data.frame(sample = sp$test, set = "test", label = as.character(labels[sp$test]))),
            file.path(sd0, "split.csv"), row.names = FALSE)
  ytr <- labels[sp$train]
  dge <- DGEList(counts = counts[, sp$train], group = ytr)
  dge <- calcNormFactors(dge, method = "TMM")
  dge <- estimateCommonDisp(dge)
  dge <- estimateTagwiseDisp(dge)
  et <- exactTest(dge, pair = c("N", "T"))
  tt <- topTags(et, n = Inf, sort.by = "PValue")$table
  write.csv(data.frame(gene = rownames(tt), tt, check.names = FALSE),
            file.path(sd0, "edgeR_exacttest_train_all.csv"), row.names = FALSE)
  write.csv(data.frame(gene = rownames(dge$samples), dge$samples),
            file.path(sd0, "edgeR_train_samples_normfactors.csv"), row.names = FALSE)
  write.csv(data.frame(common.dispersion = dge$common.dispersion),
            file.path(sd0, "edgeR_train_common_disp.csv"), row.names = FALSE)
  top50 <- rownames(topTags(et, n = 50)$table)
  write.csv(data.frame(rank = 1:50, gene = top50), file.path(sd0, "top50_genes.csv"), row.names = FALSE)
}
run_split("A", 2128)
run_split("B", 7)
cat("wrote", OUT, "\n")
