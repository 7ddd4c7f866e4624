#!/usr/bin/env Rscript
# Reference ("anchor") outputs of edgeR / limma-voom / DESeq2 for a two-or-more-group design.
#
# Usage:
#   Rscript reference_edger.R COUNTS.csv[.gz] LABELS.csv OUTDIR [LABEL_COLUMN] [--no-deseq2]
#
# COUNTS: first column = feature id, other columns = samples (integer counts; rows = genes).
# LABELS: must contain `sample_id` and a label column (default `class`); order need not match.
# The group factor uses sorted label levels (R's default), so for two groups every logFC is
# level2 - level1 (e.g. tumor - normal, male - female). No gene filtering is done here: filter
# the counts CSV beforehand if you want edgeR on filtered data.
#
# Writes to OUTDIR:
#   versions.csv                       R / package versions
#   params.csv                         scalar results (common dispersions, prior.df, span, ...)
#   samples_normfactors.csv            lib.size, TMM norm.factors, effective lib size, DESeq2 sizeFactors
#   genes_dispersion.csv               per gene: AveLogCPM, estimateDisp trended/tagwise,
#                                      classic (qCML) tagwise, DESeq2 baseMean/dispGeneEst/dispFit/dispMAP/dispersion
#   de_exact_classic.csv               exactTest on the classic (qCML common+tagwise) DGEList
#   de_exact_estimateDisp.csv          exactTest on the estimateDisp DGEList (tagwise)
#   de_glmlrt.csv                      glmFit + glmLRT (estimateDisp dispersions), last coefficient
#   de_glmqlf.csv                      glmQLFit + glmQLFTest (default settings), last coefficient
#   de_deseq2_wald.csv                 DESeq2 results() Wald test (no LFC shrinkage), last coefficient
#   voom_E.csv.gz, voom_weights.csv.gz limma::voom(DGEList with TMM, design) log2-CPM and precision weights
#   timings.csv                        elapsed seconds of the main calls
#
# Copy of shared/reference/scripts/reference_edger.R; the one change: DESeq2 is loaded only
# when it is used (so --no-deseq2 runs without it installed).
args <- commandArgs(trailingOnly = TRUE)
do_deseq2 <- !("--no-deseq2" %in% args)
suppressPackageStartupMessages({
  library(edgeR); library(limma); if (do_deseq2) library(DESeq2)
})
args <- args[args != "--no-deseq2"]
if (length(args) < 3) stop("usage: Rscript reference_edger.R COUNTS.csv LABELS.csv OUTDIR [LABEL_COLUMN] [--no-deseq2]")
counts_file <- args[1]; labels_file <- args[2]; outdir <- args[3]
label_col <- if (length(args) >= 4) args[4] else "class"
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

cnt <- read.csv(counts_file, check.names = FALSE, stringsAsFactors = FALSE)
ids <- as.character(cnt[[1]])
counts <- as.matrix(cnt[, -1, drop = FALSE]); rownames(counts) <- ids
storage.mode(counts) <- "double"
stopifnot(all(counts >= 0), all(counts == round(counts)), !anyDuplicated(ids))
lab <- read.csv(labels_file, check.names = FALSE, stringsAsFactors = FALSE)
stopifnot("sample_id" %in% names(lab), label_col %in% names(lab))
lab <- lab[match(colnames(counts), as.character(lab$sample_id)), ]
if (anyNA(lab$sample_id)) stop("samples in counts without a label")
group <- factor(lab[[label_col]])
design <- model.matrix(~group)
coef_name <- colnames(design)[ncol(design)]
cat(sprintf("%d genes x %d samples; groups: %s\n", nrow(counts), ncol(counts),
            paste(levels(group), table(group), sep = "=", collapse = ", ")))

tim <- list()
tm <- function(name, expr) { t <- system.time(v <- expr); tim[[name]] <<- t[["elapsed"]]; v }

## ---- edgeR: TMM ----
y <- DGEList(counts = counts, group = group)
y <- tm("calcNormFactors_TMM", calcNormFactors(y, method = "TMM"))

## ---- edgeR: estimateDisp (weighted likelihood empirical Bayes), design ~group ----
yd <- tm("estimateDisp", estimateDisp(y, design = design))

## ---- edgeR classic: qCML common + tagwise (defaults: prior.df = 10, trend = "movingave") ----
yc <- tm("estimateCommonDisp", estimateCommonDisp(y))
yc <- tm("estimateTagwiseDisp", estimateTagwiseDisp(yc))

## ---- DE tests ----
et_c <- tm("exactTest_classic", exactTest(yc))
et_d <- tm("exactTest_estimateDisp", exactTest(yd))
fit <- tm("glmFit", glmFit(yd, design))
lrt <- tm("glmLRT", glmLRT(fit, coef = ncol(design)))
qfit <- tm("glmQLFit", glmQLFit(yd, design))
qlf <- tm("glmQLFTest", glmQLFTest(qfit, coef = ncol(design)))

de_out <- function(obj, file) {
  tt <- topTags(obj, n = Inf, sort.by = "none")$table
  write.csv(data.frame(feature_id = rownames(tt), tt, check.names = FALSE),
            file.path(outdir, file), row.names = FALSE)
}
de_out(et_c, "de_exact_classic.csv")
de_out(et_d, "de_exact_estimateDisp.csv")
de_out(lrt, "de_glmlrt.csv")
de_out(qlf, "de_glmqlf.csv")

## ---- limma voom ----
v <- tm("voom", voom(y, design))
wgz <- function(m, file) {
  con <- gzfile(file.path(outdir, file), "w")
  write.csv(data.frame(feature_id = rownames(m), m, check.names = FALSE), con, row.names = FALSE)
  close(con)
}
E <- v$E; W <- v$weights; dimnames(W) <- dimnames(E)
wgz(E, "voom_E.csv.gz"); wgz(W, "voom_weights.csv.gz")

## ---- DESeq2 ----
genes <- data.frame(feature_id = rownames(counts), AveLogCPM = yd$AveLogCPM,
                    estimateDisp_trended = yd$trended.dispersion,
                    estimateDisp_tagwise = yd$tagwise.dispersion,
                    classic_tagwise = yc$tagwise.dispersion,
                    classic_AveLogCPM = yc$AveLogCPM, check.names = FALSE)
samp <- data.frame(sample_id = colnames(counts), group = as.character(group),
                   lib_size = y$samples$lib.size, tmm_norm_factor = y$samples$norm.factors,
                   eff_lib_size = y$samples$lib.size * y$samples$norm.factors)
if (do_deseq2) {
  cd <- data.frame(group = group, row.names = colnames(counts))
  mode(counts) <- "integer"
  dds <- DESeqDataSetFromMatrix(counts, cd, design = ~group)
  dds <- tm("DESeq2_estimateSizeFactors", estimateSizeFactors(dds))
  dds <- tm("DESeq2_estimateDispersions", estimateDispersions(dds, quiet = TRUE))
  dds <- tm("DESeq2_nbinomWaldTest", nbinomWaldTest(dds, quiet = TRUE))
  mc <- mcols(dds)
  genes$deseq2_baseMean <- mc$baseMean
  genes$deseq2_dispGeneEst <- mc$dispGeneEst
  genes$deseq2_dispFit <- mc$dispFit
  genes$deseq2_dispMAP <- mc$dispMAP
  genes$deseq2_dispersion <- mc$dispersion
  genes$deseq2_dispOutlier <- mc$dispOutlier
  samp$deseq2_size_factor <- sizeFactors(dds)
  res <- results(dds, name = resultsNames(dds)[length(resultsNames(dds))])
  write.csv(data.frame(feature_id = rownames(res), as.data.frame(res), check.names = FALSE),
            file.path(outdir, "de_deseq2_wald.csv"), row.names = FALSE)
  df <- dispersionFunction(dds)
  deseq2_disp_coef <- attr(df, "coefficients")
  deseq2_prior_var <- attr(df, "dispPriorVar")
}
write.csv(genes, file.path(outdir, "genes_dispersion.csv"), row.names = FALSE)
write.csv(samp, file.path(outdir, "samples_normfactors.csv"), row.names = FALSE)

params <- list(
  n_genes = nrow(counts), n_samples = ncol(counts),
  group_levels = paste(levels(group), collapse = ";"), tested_coef = coef_name,
  estimateDisp_common = yd$common.dispersion,
  estimateDisp_prior_df = paste(unique(signif(yd$prior.df, 15)), collapse = ";"),
  estimateDisp_span = yd$span, estimateDisp_trend_method = yd$trend.method,
  classic_common = yc$common.dispersion, classic_prior_df = yc$prior.df,
  classic_prior_n = yc$prior.n, classic_trend = "movingave (estimateTagwiseDisp default)", classic_span = yc$span,
  glmQLFit_df_prior = paste(unique(signif(qfit$df.prior, 15)), collapse = ";"),
  glmQLFit_var_prior_median = median(qfit$var.prior),
  voom_lib_size_used = "lib.size*norm.factors (TMM)"
)
if (do_deseq2) {
  params$deseq2_fitType <- "parametric"
  params$deseq2_asymptDisp <- deseq2_disp_coef[["asymptDisp"]]
  params$deseq2_extraPois <- deseq2_disp_coef[["extraPois"]]
  params$deseq2_dispPriorVar <- deseq2_prior_var
}
write.csv(data.frame(name = names(params), value = vapply(params, function(x) format(x, digits = 15), "")),
          file.path(outdir, "params.csv"), row.names = FALSE)

pk <- c("edgeR", "limma", "DESeq2", "locfit")
pk <- pk[vapply(pk, requireNamespace, NA, quietly = TRUE)]
write.csv(data.frame(name = c("R", pk),
                     version = c(R.version.string, vapply(pk, function(p) as.character(packageVersion(p)), ""))),
          file.path(outdir, "versions.csv"), row.names = FALSE)
write.csv(data.frame(step = names(tim), elapsed_s = unlist(tim)), file.path(outdir, "timings.csv"), row.names = FALSE)
cat("common (estimateDisp) =", yd$common.dispersion, "; prior.df =", unique(yd$prior.df),
    "; classic common =", yc$common.dispersion, "\n")
cat("wrote", outdir, "\n")
