#!/usr/bin/env Rscript
## rms / pROC reference outputs of the nomogram (tests/data/nomogram/). Tests:
## tests/radiogenomics/test_nomogram.py (and the nomogram package's own tests).
##
## Run from anywhere:   Rscript tests/data/nomogram/make_reference.R [OUTDIR]
## OUTDIR defaults to this folder (overwrites ich/ and birthwt/); give a scratch folder to compare.
## Made with R 4.2.2, rms 6.5.0 (Hmisc 4.8.0), pROC 1.18.0, MASS (Debian: apt-get install
## r-base-core r-cran-rms r-cran-proc r-cran-mass).
##
## ich/: the body of shared/reference/scripts/nomogram.R, unchanged except for its output
##   folder: a simulated intracerebral-haemorrhage cohort (n = 1094, set.seed(42)),
##   rms::lrm + nomogram(fun = plogis), points of the first 20 patients, pROC AUC with DeLong CI, rms::calibrate (B = 200,
##   set.seed(1)); the files the tests do not use (prints, checks) stay in a temporary folder.
## birthwt/: reference_nomogram.R --demo (this folder; a copy of
##   shared/reference/scripts/reference_nomogram.R): MASS::birthwt, low ~ age + lwt + race +
##   smoke + ptl + ht (race a factor).
args <- commandArgs(trailingOnly = TRUE)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
HERE <- dirname(normalizePath(self))
DEST <- normalizePath(if (length(args) >= 1) args[1] else HERE, mustWork = FALSE)
dir.create(file.path(DEST, "ich"), recursive = TRUE, showWarnings = FALSE)

suppressPackageStartupMessages({ library(rms); library(pROC) })
OUT <- tempfile("nomogram_")
dir.create(OUT, showWarnings = FALSE, recursive = TRUE)

n <- 1094
set.seed(42)
age <- pmin(95, pmax(18, rnorm(n, 61, 13)))
gcs <- as.integer(pmax(3, 15 - rnbinom(n, size = 0.5, mu = 2)))        # integer 3..15, median 14
volume_ml <- exp(rnorm(n, log(20), 0.85))                              # median 20, IQR ~ 11-35
location <- factor(sample(c("deep", "lobar", "subtentorial"), n, replace = TRUE, prob = c(0.70, 0.215, 0.085)),
                   levels = c("deep", "lobar", "subtentorial"))
expansion <- rbinom(n, 1, 0.24)
sr_index <- pmin(0.95, pmax(0.2, rnorm(n, 0.54, 0.10)))
lr_change_mm <- rnorm(n, 1.9, 9.0)
lp0 <- 0.03 * age - 0.35 * gcs + 0.6 * log(volume_ml) + 0.2 * (location == "lobar") + 0.4 * (location == "subtentorial") +
  0.8 * expansion - 1.0 * sr_index + 0.13 * lr_change_mm
## intercept: mean(plogis(b0 + lp0)) = 0.5 (uniroot; consumes no random numbers)
b0 <- uniroot(function(b) mean(plogis(b + lp0)) - 0.5, c(-50, 50), tol = 1e-12)$root
poor <- rbinom(n, 1, plogis(b0 + lp0))
cohort <- data.frame(id = 1:n, age, gcs, volume_ml, location, expansion, sr_index, lr_change_mm, poor)
write.csv(cohort, file.path(OUT, "cohort.csv"), row.names = FALSE)
writeLines(c(sprintf("intercept_b0=%.15g", b0), sprintf("prevalence_poor=%.6f", mean(poor)),
             sprintf("gcs_median=%g", median(gcs)), sprintf("volume_quartiles=%s", paste(signif(quantile(volume_ml, c(.25, .5, .75)), 6), collapse = ","))),
           file.path(OUT, "simulation_info.txt"))

dd <- datadist(cohort); options(datadist = "dd")
fit <- lrm(poor ~ age + gcs + volume_ml + location + expansion + sr_index + lr_change_mm, data = cohort, x = TRUE, y = TRUE)
co <- coef(fit); V <- vcov(fit)
write.csv(data.frame(term = names(co), coef = unname(co), se = sqrt(diag(V)), z = co / sqrt(diag(V)),
                     p = 2 * pnorm(-abs(co / sqrt(diag(V)))), OR = exp(co)),
          file.path(OUT, "lrm_coefficients.csv"), row.names = FALSE)
write.csv(data.frame(stat = names(fit$stats), value = unname(fit$stats)), file.path(OUT, "lrm_stats.csv"), row.names = FALSE)
capture.output(print(fit), file = file.path(OUT, "lrm_print.txt"))
dl <- data.frame(variable = names(dd$limits), t(dd$limits))
write.csv(data.frame(limit = rownames(dd$limits), dd$limits, check.names = FALSE), file.path(OUT, "datadist_limits.csv"), row.names = FALSE)

nom <- nomogram(fit, fun = plogis)   # defaults: lp=TRUE, maxscale=100, fun.at default, funlabel="Predicted Value"
capture.output(print(nom), file = file.path(OUT, "nomogram_print.txt"))
preds <- c("age", "gcs", "volume_ml", "location", "expansion", "sr_index", "lr_change_mm")
pt <- do.call(rbind, lapply(preds, function(p) {
  e <- nom[[p]]
  data.frame(predictor = p, value = as.character(e[[p]]), points = e$points)
}))
write.csv(pt, file.path(OUT, "nomogram_points_table.csv"), row.names = FALSE)
fe <- nom[["Predicted Value"]]
write.csv(data.frame(total_points = fe$x, probability = fe$x.real), file.path(OUT, "nomogram_totalpoints_to_prob.csv"), row.names = FALSE)
tp <- nom[["total.points"]]; lpax <- nom[["lp"]]
write.csv(data.frame(total_points = lpax$x, linear_predictor = lpax$x.real), file.path(OUT, "nomogram_totalpoints_to_lp.csv"), row.names = FALSE)
info <- attr(nom, "info")
writeLines(c(sprintf("sc=%.15g", info$sc), sprintf("maxscale=%g", info$maxscale), sprintf("Intercept=%.15g", info$Intercept),
             sprintf("total_points_axis=%s", paste(tp$x, collapse = ","))), file.path(OUT, "nomogram_info.txt"))

## Total points per patient.  rms: points_j = sc * (beta_j*x_j - min over axis of beta_j*x_j) ; total = sum_j points_j.
## Equivalent: total = sc * (lp - Intercept - sum_j min_j).  Compute per-predictor points by exact linear relation
## (all continuous terms are linear), via the points table (linear interpolation/extrapolation).
pts_of <- function(p, val) {
  e <- nom[[p]]
  if (is.factor(cohort[[p]]) || p == "expansion") {
    e$points[match(as.character(val), as.character(e[[p]]))]
  } else {
    xs <- e[[p]]; ys <- e$points
    slope <- (ys[length(ys)] - ys[1]) / (xs[length(xs)] - xs[1])
    ys[1] + slope * (val - xs[1])
  }
}
first20 <- cohort[1:20, ]
ptsmat <- sapply(preds, function(p) pts_of(p, first20[[p]]))
lp20 <- predict(fit, first20, type = "lp")
total <- rowSums(ptsmat)
## cross-check against closed form
xbeta_min <- sum(sapply(preds, function(p) { e <- nom[[p]]; min(e$points) })) # points min is 0 per axis
write.csv(data.frame(id = first20$id, ptsmat, total_points = total, lp = unname(lp20),
                     prob = unname(plogis(lp20)), prob_predict_fitted = unname(predict(fit, first20, type = "fitted")),
                     check.names = FALSE),
          file.path(OUT, "first20_points_probs.csv"), row.names = FALSE)
## check: linear relation between total and lp
chk <- lm(lp20 ~ total)
writeLines(sprintf("lp = %.12g + %.12g * total_points (max abs resid %.3g); 1/sc = %.12g", coef(chk)[1], coef(chk)[2],
                   max(abs(resid(chk))), 1 / info$sc), file.path(OUT, "first20_check.txt"))

## pROC
ph <- predict(fit, type = "fitted")
r <- roc(cohort$poor, ph, levels = c(0, 1), direction = "<", quiet = TRUE)
ci <- ci.auc(r, method = "delong")
write.csv(data.frame(auc = as.numeric(auc(r)), ci_lower = ci[1], ci_mid = ci[2], ci_upper = ci[3], method = "delong", conf.level = 0.95,
                     n_cases = sum(cohort$poor == 1), n_controls = sum(cohort$poor == 0)),
          file.path(OUT, "proc_auc_delong.csv"), row.names = FALSE)
write.csv(data.frame(id = cohort$id, fitted_prob = ph, lp = predict(fit, type = "lp")), file.path(OUT, "fitted_probs_all.csv"), row.names = FALSE)

## calibrate
set.seed(1)
cal <- calibrate(fit, B = 200)   # method="boot", bw=FALSE, kint default
capture.output(print(cal), file = file.path(OUT, "calibrate_print.txt"))
cm <- unclass(cal)
write.csv(data.frame(cm[, , drop = FALSE], check.names = FALSE), file.path(OUT, "calibrate_table.csv"), row.names = FALSE)
cat("done\n")

for (f in c("calibrate_table.csv", "cohort.csv", "datadist_limits.csv", "first20_points_probs.csv",
            "fitted_probs_all.csv", "lrm_coefficients.csv", "nomogram_info.txt",
            "nomogram_points_table.csv", "nomogram_totalpoints_to_lp.csv",
            "nomogram_totalpoints_to_prob.csv", "proc_auc_delong.csv"))
  file.copy(file.path(OUT, f), file.path(DEST, "ich", f), overwrite = TRUE)

st <- system2(file.path(R.home("bin"), "Rscript"),
              c(file.path(HERE, "reference_nomogram.R"), "--demo", file.path(DEST, "birthwt")))
if (st != 0) stop("reference_nomogram.R --demo failed")
cat("wrote", DEST, "\n")
